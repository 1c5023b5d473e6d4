"""Redis adapters for the short-lived caches every process shares when `LTIGATE_REDIS_URL` is set: platform
key sets and service access tokens (docs/decisions/0011). Everything else stays in the database.
"""
