import datetime as dt

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q
from django.utils import timezone

from crm import roles

from .cards import card_html
from .models import AgentStatus, Call

# An ended call stays on the agent's screen for wrap-up this long after a reconnect.
WRAP_UP_WINDOW = dt.timedelta(minutes=30)


def current_cards(user) -> list[tuple[str, str]]:
    """What the agent's screen must show right now: a ringing call, or a call awaiting wrap-up.

    Sent first on every (re)connection, so a browser that lost its connection while the phone rang
    still shows the caller.
    """
    if not user.is_active:
        return []
    mine = Q(agent=user)
    if user.extension:
        mine |= Q(state=Call.State.RINGING, extension__regex=rf"(^|,)\s*{_escape(user.extension)}\s*(,|$)")
    recent = Q(state__in=[Call.State.RINGING, Call.State.ANSWERED]) | Q(
        wrapped_up_at__isnull=True, ended_at__gte=timezone.now() - WRAP_UP_WINDOW
    )
    call = Call.objects.filter(mine & recent).order_by("-ringing_at", "-id").first()
    if call is None:
        return []
    return [("call", card_html(call=call, user=user))]


def _escape(value):
    import re

    return re.escape(value)


def agent_board(*, user):
    """Agents with their presence and the call they are on now, for a manager's team or everyone for admins."""
    users = get_user_model().objects.filter(is_active=True).exclude(extension="").select_related("team")
    if not roles.is_admin(user):
        team_ids = list(user.managed_teams.values_list("id", flat=True)) + (
            [user.team_id] if user.team_id else []
        )
        users = users.filter(team_id__in=team_ids)
    live_calls = Call.objects.filter(state__in=[Call.State.RINGING, Call.State.ANSWERED]).select_related(
        "customer"
    )
    users = users.prefetch_related(
        Prefetch("calls", queryset=live_calls, to_attr="live_calls"),
    ).order_by("team__name", "username")
    statuses = {s.user_id: s for s in AgentStatus.objects.filter(user__in=users)}
    return [
        {
            "user": agent,
            "status": statuses.get(agent.pk),
            "call": agent.live_calls[0] if agent.live_calls else None,
        }
        for agent in users
    ]
