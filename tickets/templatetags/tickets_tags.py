from django import template
from django.utils.translation import gettext as _

register = template.Library()

STATUS_COLOURS = {
    "new": "primary",
    "open": "info",
    "pending": "warning",
    "on_hold": "secondary",
    "solved": "success",
    "closed": "dark",
}
PRIORITY_COLOURS = {"low": "light", "normal": "secondary", "high": "warning", "urgent": "danger"}


@register.filter
def status_colour(status):
    return STATUS_COLOURS.get(status, "secondary")


@register.filter
def priority_colour(priority):
    return PRIORITY_COLOURS.get(priority, "secondary")


def duration(seconds: int) -> str:
    """A short span: "3 d 4 h", "2 h 05 min", "12 min"."""
    seconds = abs(int(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(days)d d %(hours)d h") % {"days": days, "hours": hours}
    if hours:
        return _("%(hours)d h %(minutes)02d min") % {"hours": hours, "minutes": minutes}
    return _("%(minutes)d min") % {"minutes": minutes}


@register.filter
def remaining(due, now):
    """Time left until `due` ("2 h 05 min"), or how late it is ("−12 min"). The page's script keeps it current."""
    if due is None or now is None:
        return "—"
    seconds = int((due - now).total_seconds())
    return duration(seconds) if seconds >= 0 else "−" + duration(seconds)


@register.filter
def is_past(due, now):
    return due is not None and now is not None and due <= now
