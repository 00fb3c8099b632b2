"""Mailbox passwords at rest (crm.crypto): the key is TICKETS_MAILBOX_KEY, or one derived from SECRET_KEY;
rotating it means re-entering the passwords, which the mailbox pages allow."""

from crm.crypto import secret_decrypt, secret_encrypt

KEY = {"key_setting": "TICKETS_MAILBOX_KEY", "purpose": "tickets.mailbox"}


def encrypt(secret: str) -> str:
    return secret_encrypt(secret, **KEY)


def decrypt(token: str) -> str:
    """The secret, or "" when there is none or it was encrypted with another key."""
    return secret_decrypt(token, **KEY)
