"""The CTI event API's signature: HMAC-SHA256 over "<timestamp>.<raw body>" with a shared secret."""

import hashlib
import hmac
import time

MAX_SKEW_SECONDS = 300


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(
    secret: str, timestamp: str, signature: str, body: bytes, *, now: float | None = None
) -> str | None:
    """None when the request is authentic and fresh, else the reason it is not."""
    if not secret:
        return "CTI_SHARED_SECRET is not configured"
    if not timestamp or not signature:
        return "missing X-CRM-Timestamp or X-CRM-Signature"
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "X-CRM-Timestamp must be unix seconds"
    if abs((now if now is not None else time.time()) - sent_at) > MAX_SKEW_SECONDS:
        return "X-CRM-Timestamp is more than 5 minutes off"
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        return "bad signature"
    return None
