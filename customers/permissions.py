"""Who may see which customer. Every list, page, search, API and export goes through here."""

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.utils import timezone

from crm import roles

from .models import (
    Customer,
    CustomerGroupObjectPermission,
    CustomerLookup,
    CustomerUserObjectPermission,
    Interaction,
)

# An agent who looked a caller up by the exact number may open that profile for this long.
LOOKUP_GRANT = timedelta(hours=12)


def customers_visible_to(user, queryset=None, *, include_merged: bool = False):
    """The customers `user` may see.

    Admins see all; managers their teams'; sales reps their own, those shared with them and, when
    CUSTOMERS_REPS_SEE_TEAM is on, their team's; agents those they worked on or looked up by the
    exact phone number a moment ago. Nobody else sees anything. Records merged into another one
    (customers.merging) are left out unless `include_merged`: they hold nothing any more, and
    leaving them out keeps stale pages and pickers from writing to them.
    """
    queryset = Customer.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if not include_merged:
        queryset = queryset.filter(merged_into__isnull=True)
    role = roles.user_role(user)
    if role == roles.ADMIN:
        return queryset
    # Shares are read first and passed as a list: "owner = X OR id IN (list)" is served by two index
    # scans, while "owner = X OR EXISTS (share)" makes PostgreSQL test every customer.
    shared = Q(pk__in=_shared_ids(user))
    if role == roles.MANAGER:
        return queryset.filter(Q(team_id__in=_team_ids(user)) | Q(owner=user) | shared)
    if role == roles.SALES_REP:
        condition = Q(owner=user) | shared
        if settings.CUSTOMERS_REPS_SEE_TEAM and user.team_id:
            condition |= Q(team_id=user.team_id)
        return queryset.filter(condition)
    if role == roles.AGENT:
        # order_by(): SQLite refuses ORDER BY inside a UNION, and Interaction is ordered by default.
        worked_on = Interaction.objects.filter(actor=user).order_by().values_list("customer_id", flat=True)
        looked_up = (
            CustomerLookup.objects.filter(user=user, created_at__gte=timezone.now() - LOOKUP_GRANT)
            .order_by()
            .values_list("customer_id", flat=True)
        )
        reachable = list(worked_on.union(looked_up))
        return queryset.filter(Q(owner=user) | Q(pk__in=reachable) | shared)
    return queryset.none()


def _shared_ids(user) -> list[int]:
    codename = "view_customer"
    by_user = CustomerUserObjectPermission.objects.filter(user=user, permission__codename=codename)
    by_group = CustomerGroupObjectPermission.objects.filter(
        group__in=user.groups.all(), permission__codename=codename
    )
    return list(
        by_user.order_by()
        .values_list("content_object_id", flat=True)
        .union(by_group.order_by().values_list("content_object_id", flat=True))
    )


def _team_ids(user):
    ids = set(user.managed_teams.values_list("id", flat=True))
    if user.team_id:
        ids.add(user.team_id)
    return list(ids)


def can_view_contact_details(user) -> bool:
    return user.is_authenticated and user.has_perm("customers.view_contact_details")


def check_can_view(user, customer):
    if not customers_visible_to(user).filter(pk=customer.pk).exists():
        raise PermissionDenied("You do not have access to this customer.")


def can_edit(user, customer) -> bool:
    return user.has_perm("customers.change_customer")


def can_share(user) -> bool:
    return user.has_perm("customers.share_customer")
