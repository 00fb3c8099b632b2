"""Channel credentials at rest: one encrypted JSON object per channel (crm.crypto), never in plain text."""

import json

from crm.crypto import secret_decrypt, secret_encrypt

KEY = {"key_setting": "CHANNEL_ENCRYPTION_KEY", "purpose": "social-channel-credentials"}


def credentials_encrypt(values: dict) -> str:
    return secret_encrypt(json.dumps(values, sort_keys=True), **KEY)


def credentials_decrypt(token: str) -> dict:
    """The stored credentials, or {} when there are none or the key changed (then they must be re-entered)."""
    text = secret_decrypt(token, **KEY)
    return json.loads(text) if text else {}
