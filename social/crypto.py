"""Channel credentials at rest: Fernet under a key from settings, never the plain secret in the database."""

import base64
import hashlib
import json

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    configured = getattr(settings, "CHANNEL_ENCRYPTION_KEY", "") or ""
    material = configured or f"social-channel-credentials:{settings.SECRET_KEY}"
    try:
        if configured and len(base64.urlsafe_b64decode(configured.encode())) == 32:
            return Fernet(configured.encode())
    except ValueError:
        pass
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest()))


def credentials_encrypt(values: dict) -> str:
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def credentials_decrypt(token: str) -> dict:
    """The stored credentials, or {} when there are none or the key changed (then they must be re-entered)."""
    if not token:
        return {}
    try:
        return json.loads(_fernet().decrypt(token.encode()))
    except (InvalidToken, ValueError):
        return {}
