"""Data derived from the stored passages and vectors, refreshed after every ingest and remove:
language means, translation links, the companion model's vectors, lesson types."""
