"""Accounts: their records and store, and the account and key lifecycle (CLI and dashboard)."""
