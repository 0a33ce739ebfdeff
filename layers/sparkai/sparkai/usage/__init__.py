"""Metering: prices, the DynamoDB usage ledger (written by the limiter's settle) and its reports."""
