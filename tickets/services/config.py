"""Writes of the ticket settings pages (admins only) and of users' saved queue filters."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from ..models import BusinessCalendar, Category, Holiday, SavedFilter, StatusTransition, Ticket

MAX_SAVED_FILTERS = 30


def check_can_configure(actor) -> None:
    if actor is None or not actor.has_perm("tickets.configure_tickets"):
        raise PermissionDenied(_("Only administrators may change the ticket settings."))


@transaction.atomic
def settings_save(*, actor, instance):
    """Save one settings row (category, SLA policy, calendar, holiday, escalation or assignment rule)."""
    check_can_configure(actor)
    if isinstance(instance, Category) and instance.parent_id is not None and instance.pk is not None:
        seen, node = set(), instance.parent
        while node is not None and node.pk not in seen:
            if node.pk == instance.pk:
                raise ValidationError({"parent": _("A category cannot sit inside itself.")})
            seen.add(node.pk)
            node = node.parent
    if isinstance(instance, BusinessCalendar) and instance.is_default:
        BusinessCalendar.objects.exclude(pk=instance.pk).filter(is_default=True).update(is_default=False)
    instance.full_clean()
    instance.save()
    return instance


@transaction.atomic
def settings_delete(*, actor, instance) -> None:
    """Delete a holiday, an escalation or an assignment rule. Categories, policies and calendars that
    tickets point at are switched off instead, which keeps history readable."""
    check_can_configure(actor)
    instance.delete()


@transaction.atomic
def transitions_set(*, actor, pairs) -> None:
    """Replace the allowed status changes with `pairs` of (from, to)."""
    check_can_configure(actor)
    statuses = set(Ticket.Status.values)
    clean = {(a, b) for a, b in pairs if a in statuses and b in statuses and a != b}
    if not any(a != Ticket.Status.CLOSED for a, _b in clean):
        raise ValidationError(_("Allow at least one change of status."))
    StatusTransition.objects.all().delete()
    StatusTransition.objects.bulk_create(
        [StatusTransition(from_status=a, to_status=b) for a, b in sorted(clean)]
    )


@transaction.atomic
def holiday_add(*, actor, calendar: BusinessCalendar, date, name: str) -> Holiday:
    check_can_configure(actor)
    name = str(name or "").replace("\x00", "").strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": _("Name the holiday (at most 100 characters).")})
    if calendar.holidays.filter(date=date).exists():
        raise ValidationError({"date": _("This calendar already has a holiday on that day.")})
    return Holiday.objects.create(calendar=calendar, date=date, name=name)


def saved_filter_save(*, user, name: str, query: str) -> SavedFilter:
    """Save (or overwrite, by name) the user's current queue search."""
    name = str(name or "").replace("\x00", "").strip()
    if not name or len(name) > 60:
        raise ValidationError({"name": _("Name the filter (at most 60 characters).")})
    query = str(query or "").replace("\x00", "")[:1000]
    existing = SavedFilter.objects.filter(user=user, name=name).first()
    if existing is None and SavedFilter.objects.filter(user=user).count() >= MAX_SAVED_FILTERS:
        raise ValidationError(
            {"name": _("You can keep at most %(limit)d filters.") % {"limit": MAX_SAVED_FILTERS}}
        )
    saved, _created = SavedFilter.objects.update_or_create(user=user, name=name, defaults={"query": query})
    return saved


def saved_filter_delete(*, user, saved: SavedFilter) -> None:
    if saved.user_id != user.pk:
        raise PermissionDenied
    saved.delete()
