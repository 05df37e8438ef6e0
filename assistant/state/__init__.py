"""Service state kept in SQLite beside the index: schema migrations and user feedback."""
