from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
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


@register.simple_tag
def sla_badge(ticket, now):
    """The ticket's SLA state; for a running clock the time left, which app.js keeps counting down.

    A tag rather than an included template: a queue page shows it on every row.
    """
    state = ticket.sla_state
    if state == "paused":
        return format_html(
            '<span class="badge sla-badge sla-paused" title="{}"><i class="bi bi-pause-circle me-1"></i>{}</span>',
            _("The clock stops while the ticket is pending on the customer."),
            _("Paused"),
        )
    if ticket.sla_due is not None and ticket.is_unresolved:
        due = timezone.localtime(ticket.sla_due)
        overdue = " sla-overdue" if ticket.sla_due <= now else ""
        return format_html(
            '<span class="badge sla-badge sla-{}{}" title="{} · {} {}" data-testid="sla-badge">'
            '<i class="bi bi-stopwatch me-1"></i><time class="sla-countdown" datetime="{}">{}</time></span>',
            state,
            overdue,
            ticket.get_sla_state_display(),
            _("due"),
            due.strftime("%Y-%m-%d %H:%M"),
            due.isoformat(),
            remaining(ticket.sla_due, now),
        )
    if state == "met":
        return format_html(
            '<span class="badge sla-badge sla-met"><i class="bi bi-check2 me-1"></i>{}</span>', _("SLA met")
        )
    if state == "breached":
        return format_html(
            '<span class="badge sla-badge sla-breached"><i class="bi bi-exclamation-triangle me-1"></i>{}</span>',
            _("SLA breached"),
        )
    return mark_safe('<span class="text-muted small">—</span>')  # noqa: S308 - a constant
