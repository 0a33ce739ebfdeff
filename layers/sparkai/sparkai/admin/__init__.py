"""Account and key lifecycle: the Python API operators script against, and the CLI over it."""
