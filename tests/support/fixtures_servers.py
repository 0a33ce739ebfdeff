"""Fixtures that run real servers in this process on free ports (filled in with the servers)."""
