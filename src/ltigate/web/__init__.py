"""The ASGI application: LTI endpoints, the REST API, health endpoints."""
