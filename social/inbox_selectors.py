"""Reads for the social inbox: which conversations a user may see, the lists, the thread and its side panel."""

import re

from django.core.exceptions import ValidationError
from django.db.models import Count, F, Q, QuerySet

from crm import roles
from customers.models import ContactPoint, Customer
from customers.normalise import phone_normalise
from customers.permissions import customers_visible_to

from .models import Conversation, Message

VIEW_PERMISSION = "social.view_conversation"
FOLDERS = ("unassigned", "mine", "team", "all")
THREAD_PAGE = 50


def user_team_ids(user) -> list[int]:
    ids = set(user.managed_teams.values_list("id", flat=True)) if roles.is_manager(user) else set()
    if user.team_id:
        ids.add(user.team_id)
    return sorted(ids)


def conversations_visible_to(user, queryset: QuerySet | None = None) -> QuerySet:
    """Admins see every conversation; others those assigned to them, to one of their teams (a manager's
    teams include those they manage), or not yet given to a team on a channel of their team or of no team."""
    queryset = Conversation.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active or not user.has_perm(VIEW_PERMISSION):
        return queryset.none()
    if roles.is_admin(user):
        return queryset
    teams = user_team_ids(user)
    unrouted = Q(team__isnull=True) & (Q(channel__team__isnull=True) | Q(channel__team_id__in=teams))
    return queryset.filter(Q(assignee=user) | Q(team_id__in=teams) | unrouted)


def inbox_list(*, user, folder: str = "unassigned", q: str = "", status: str = "open") -> QuerySet:
    """One folder of the inbox, newest activity first, with what each row shows (no query per row)."""
    queryset = conversations_visible_to(user)
    if status in (Conversation.Status.OPEN, Conversation.Status.CLOSED):
        queryset = queryset.filter(status=status)
    if folder == "unassigned":
        queryset = queryset.filter(assignee__isnull=True)
    elif folder == "mine":
        queryset = queryset.filter(assignee=user)
    elif folder == "team":
        queryset = queryset.filter(team_id__in=user_team_ids(user))
    q = (q or "").strip()[:100]
    if q:
        queryset = queryset.filter(
            Q(customer__name__icontains=q)
            | Q(identity__display_name__icontains=q)
            | Q(pk__in=Message.objects.filter(text__icontains=q).values("conversation_id"))
        )
    return queryset.select_related("channel", "customer", "identity", "assignee", "team").order_by(
        F("last_message_at").desc(nulls_last=True), "-id"
    )


def folder_counts(*, user) -> dict[str, int]:
    """How many open conversations, and how many with unread messages, each folder holds (one query)."""
    teams = user_team_ids(user)
    open_ = conversations_visible_to(user).filter(status=Conversation.Status.OPEN)
    unread = Q(unread_count__gt=0)
    counts = open_.aggregate(
        unassigned=Count("id", filter=Q(assignee__isnull=True)),
        unassigned_unread=Count("id", filter=Q(assignee__isnull=True) & unread),
        mine=Count("id", filter=Q(assignee=user)),
        mine_unread=Count("id", filter=Q(assignee=user) & unread),
        team=Count("id", filter=Q(team_id__in=teams)),
        team_unread=Count("id", filter=Q(team_id__in=teams) & unread),
        all=Count("id"),
        all_unread=Count("id", filter=unread),
    )
    return counts


def conversation_for(user, pk) -> Conversation:
    """The conversation if `user` may see it; raises Conversation.DoesNotExist otherwise."""
    return (
        conversations_visible_to(user)
        .select_related("channel", "customer", "identity", "assignee", "team")
        .get(pk=pk)
    )


def thread(
    conversation: Conversation, *, before: int | None = None, after: int | None = None
) -> list[Message]:
    """The newest page of messages, oldest first; `before` pages back, `after` fetches what is new."""
    queryset = conversation.messages.select_related("sender")
    if after is not None:
        return list(queryset.filter(pk__gt=after).order_by("created_at", "id")[:THREAD_PAGE])
    if before is not None:
        queryset = queryset.filter(pk__lt=before)
    return list(reversed(queryset.order_by("-created_at", "-id")[:THREAD_PAGE]))


def customer_summary(*, user, conversation: Conversation) -> dict:
    """The 360 summary beside the thread, only when the user may see the customer."""
    customer = conversation.customer
    if customer is None or not customers_visible_to(user).filter(pk=customer.pk).exists():
        return {"visible": False}
    interactions = list(customer.interactions.select_related("actor").order_by("-occurred_at", "-id")[:5])
    return {
        "visible": True,
        "customer": customer,
        "tags": list(customer.tags.all()),
        "interactions": interactions,
        "identities": list(customer.social_identities.all()),
    }


PHONE_LIKE = re.compile(r"(?:\+?\d[\d\s().-]{6,18}\d)")


def binding_proposals(*, user, conversation: Conversation, messages: list[Message]) -> list[Customer]:
    """Existing customers whose phone number the follower sent in this thread: candidates to bind to."""
    numbers = set()
    for message in messages:
        if message.direction != Message.Direction.IN or message.kind != Message.Kind.TEXT:
            continue
        for match in PHONE_LIKE.findall(message.text or ""):
            try:
                e164, _extension = phone_normalise(match)
            except ValidationError:  # not a number after all: no proposal
                continue
            numbers.add(e164)
    if not numbers:
        return []
    matches = ContactPoint.objects.filter(
        kind=ContactPoint.Kind.PHONE, normalised__in=sorted(numbers)
    ).values("customer_id")
    candidates = customers_visible_to(user).filter(pk__in=matches)
    if conversation.customer_id:
        candidates = candidates.exclude(pk=conversation.customer_id)
    return list(candidates.order_by("name")[:5])
