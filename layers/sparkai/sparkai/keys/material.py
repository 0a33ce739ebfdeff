"""Key material: generation (256 random bits), hashing, display prefixes and bearer parsing.

Only SHA-256 digests are stored. A slow password hash is not needed: keys carry 256 bits of
entropy, so a leaked digest cannot be brute-forced, and the lookup must stay fast.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

KEY_PREFIX = "sk-spark-"
_SECRET_BYTES = 32  # 256 bits; the brief's floor is 128
_KEY_RE = re.compile(r"^sk-spark-[A-Za-z0-9_-]{20,128}$")
DISPLAY_CHARS = 4


def generate_key() -> str:
    """A new secret key, e.g. sk-spark-<43 url-safe characters>. Shown once, never stored."""
    return KEY_PREFIX + secrets.token_urlsafe(_SECRET_BYTES)


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def digests_match(stored: str, secret: str) -> bool:
    """Constant-time comparison of a stored digest with the digest of a presented key."""
    return hmac.compare_digest(stored.encode("ascii"), hash_key(secret).encode("ascii"))


def display_prefix(secret: str) -> str:
    """What lists and logs may show: the fixed prefix and four characters, e.g. 'sk-spark-Ab3x'."""
    return secret[: len(KEY_PREFIX) + DISPLAY_CHARS]


def is_well_formed(secret: str) -> bool:
    return _KEY_RE.fullmatch(secret) is not None


def parse_bearer(authorization: str | None) -> str | None:
    """The key from 'Bearer <key>' (scheme case-insensitive), or None if the header is unusable."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() != "bearer" or not credentials or " " in credentials:
        return None
    return credentials if is_well_formed(credentials) else None
