"""Outbound HTTP adapters: the single client every request to a platform or tool goes through, and the
caches built on it (platform key sets).
"""
