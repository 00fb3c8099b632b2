"""Secrets stored in the database (channel credentials, mailbox passwords), encrypted with Fernet.

Each kind of secret has its own key: the setting named by `key_setting` when it is set (a Fernet key,
i.e. urlsafe base64 of 32 bytes, or any passphrase), otherwise one derived from SECRET_KEY and
`purpose`. Changing the key means re-entering the secrets; decrypting then gives "" rather than an error.
"""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


def _fernet(*, key_setting: str, purpose: str) -> Fernet:
    configured = getattr(settings, key_setting, "") or ""
    if isinstance(configured, bytes):
        configured = configured.decode()
    try:
        if configured and len(base64.urlsafe_b64decode(configured.encode())) == 32:
            return Fernet(configured.encode())
    except ValueError:
        pass
    material = configured or f"{purpose}:{settings.SECRET_KEY}"
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(material.encode()).digest()))


def secret_encrypt(value: str, *, key_setting: str, purpose: str) -> str:
    return _fernet(key_setting=key_setting, purpose=purpose).encrypt(value.encode()).decode() if value else ""


def secret_decrypt(token: str, *, key_setting: str, purpose: str) -> str:
    """The secret, or "" when there is none or it was encrypted under another key."""
    if not token:
        return ""
    try:
        return _fernet(key_setting=key_setting, purpose=purpose).decrypt(token.encode()).decode()
    except (InvalidToken, ValueError):
        return ""
