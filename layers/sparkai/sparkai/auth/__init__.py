"""Turning an Authorization header into a Principal, for the authorizer and the Function URL path."""
