from django.conf import settings

from . import roles


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"LANGUAGE_CHOICES": settings.LANGUAGES}
    role = roles.user_role(user)
    return {
        "LANGUAGE_CHOICES": settings.LANGUAGES,
        "user_role": role,
        "user_role_label": roles.ROLE_LABELS.get(role, role),
        "user_is_admin": roles.is_admin(user),
    }
