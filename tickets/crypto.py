"""Secrets the tickets app stores (mailbox passwords), encrypted with Fernet.

The key is TICKETS_MAILBOX_KEY, or one derived from SECRET_KEY when that is not set; rotating the key
means re-entering the passwords, which the mailbox pages allow.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet() -> Fernet:
    key = settings.TICKETS_MAILBOX_KEY
    if not key:
        digest = hashlib.sha256(b"tickets.mailbox:" + settings.SECRET_KEY.encode()).digest()
        key = base64.urlsafe_b64encode(digest)
    return Fernet(key)


def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode() if secret else ""


def decrypt(token: str) -> str:
    """The secret, or "" when there is none or it was encrypted with another key."""
    if not token:
        return ""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return ""
