"""How secrets are stored: as the SHA-256 of the value, never the value. Every secret ltigate stores
this way (login states, console session ids, API keys, registration links, picker tokens) is 256 random
bits, so a plain hash needs no salt or stretching (passwords use argon2id instead, services/admins.py).
"""

from __future__ import annotations

import hashlib


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
