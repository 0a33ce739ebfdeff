"""The self-service dashboard: Cognito sign-in, an account per user, keys and usage."""
