import logging

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import activate
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

logger = logging.getLogger(__name__)


@login_required
def home(request):
    return redirect("customers:list")


@never_cache
def healthz(request):
    """200 with the state of the database and the broker; 503 when the database is unreachable."""
    state = {"database": "ok", "broker": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means the database is not usable
        logger.exception("healthz: database check failed")
        state["database"] = "error"
    if settings.REDIS_URL:
        try:
            import redis

            redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=1, socket_timeout=1).ping()
        except Exception:  # noqa: BLE001
            logger.warning("healthz: broker check failed")
            state["broker"] = "error"
    else:
        state["broker"] = "embedded"
    status = 200 if state["database"] == "ok" else 503
    return JsonResponse(
        {"status": "ok" if status == 200 and state["broker"] != "error" else "degraded", **state},
        status=status,
    )


@require_POST
def set_language(request):
    """Switch the interface language, and remember it on the user's profile."""
    language = request.POST.get("language", "")
    if language not in dict(settings.LANGUAGES):
        language = settings.LANGUAGE_CODE
    next_url = request.POST.get("next") or request.headers.get("referer") or "/"
    if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, require_https=request.is_secure()):
        next_url = "/"
    if request.user.is_authenticated and request.user.language != language:
        request.user.language = language
        request.user.save(update_fields=["language"])
    activate(language)
    response = HttpResponseRedirect(next_url)
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, language, max_age=365 * 24 * 3600, samesite="Lax", httponly=False
    )
    return response
