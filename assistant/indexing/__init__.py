"""Indexing: the shared prepare/embed pipeline, its local and Ray runners, and the build."""
