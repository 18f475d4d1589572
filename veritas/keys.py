"""Bearer secrets of the form ``<prefix>.<secret>``, stored as a SHA-256 digest of the secret.

Used for personal API tokens here and for institution API keys in ``research``. The
secret has 256 bits of entropy, so one fast hash is enough: there is nothing to
brute-force, and a slow password hasher would cost milliseconds on every request.
The prefix is stored in clear to find the row; only the digest can confirm the secret.
"""

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX_BYTES = 6  # 12 hex characters
SECRET_BYTES = 32
# What generate() makes, exactly: anything else is refused before it is looked up, so a
# presented value never becomes a cache key or a query unless it could be a real key.
_WELL_FORMED = re.compile(rf"(?P<prefix>[a-z]{{2,8}}_[0-9a-f]{{{PREFIX_BYTES * 2}}})\.(?P<secret>[A-Za-z0-9_-]{{43}})")


@dataclass(frozen=True)
class NewKey:
    prefix: str
    secret: str

    @property
    def token(self) -> str:
        """The full value the client sends; shown once, never stored."""
        return f"{self.prefix}.{self.secret}"

    @property
    def digest(self) -> str:
        return hash_secret(self.secret)


def generate(label: str) -> NewKey:
    """A new key whose prefix starts with ``label`` (e.g. ``vtp`` for personal tokens)."""
    return NewKey(prefix=f"{label}_{secrets.token_hex(PREFIX_BYTES)}", secret=secrets.token_urlsafe(SECRET_BYTES))


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a presented token, or None when it is not of the form generate() makes."""
    match = _WELL_FORMED.fullmatch(token.strip())
    return (match["prefix"], match["secret"]) if match else None


def matches(secret: str, digest: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), digest)
