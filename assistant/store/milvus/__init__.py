"""The Milvus backend of the Store Protocol (`pip install "assistant[milvus]"`)."""
