from django.conf import settings


def client_ip(request) -> str | None:
    """The client's address; X-Forwarded-For is trusted only behind a configured proxy."""
    if getattr(settings, "TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR") or None
