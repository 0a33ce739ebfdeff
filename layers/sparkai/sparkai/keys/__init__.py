"""API keys: their format, hashing and storage."""
