import zoneinfo

from django.conf import settings
from django.utils import timezone


class UserLanguageMiddleware:
    """Apply the signed-in user's chosen language unless the request already picked one.

    Runs before LocaleMiddleware: it copies the user's language into the language cookie the
    locale machinery reads, so the choice follows the user across browsers.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        language = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
        if language and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
            request.COOKIES[settings.LANGUAGE_COOKIE_NAME] = language
        return self.get_response(request)


class UserTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        name = getattr(request.user, "timezone", "") if request.user.is_authenticated else ""
        try:
            timezone.activate(zoneinfo.ZoneInfo(name or settings.TIME_ZONE))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            timezone.activate(zoneinfo.ZoneInfo(settings.TIME_ZONE))
        return self.get_response(request)
