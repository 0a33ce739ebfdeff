"""Benchmarks: they print numbers (never assert on time). `python -m benchmarks [name ...]`."""
