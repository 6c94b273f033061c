"""REST API (FastAPI): thin routers over the capabilities' public functions."""
