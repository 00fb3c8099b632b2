from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_ipv46_address


def client_ip(request) -> str | None:
    """The client's address, always a valid IP or None.

    Behind a trusted proxy (TRUST_X_FORWARDED_FOR) it is the entry that proxy appended to
    X-Forwarded-For, the rightmost one; entries further left are whatever the client sent.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        if forwarded and forwarded[-1]:
            address = forwarded[-1]
    try:
        validate_ipv46_address(address)
    except ValidationError:
        return None
    return address
