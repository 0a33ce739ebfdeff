"""The HTTP surface: one FastAPI app served by Mangum (API Gateway) and by uvicorn (Function URL)."""
