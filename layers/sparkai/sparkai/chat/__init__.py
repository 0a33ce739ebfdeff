"""The chat capability: request/response shapes and the service that answers them."""
