"""On-disk index: one folder holding SQLite (source of truth), a FAISS snapshot and a manifest."""
