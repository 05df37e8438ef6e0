"""The embedded store: FAISS vectors + SQLite (documents, chunks, sentences, FTS5) in atomic snapshots."""
