"""Calls: CTI events in, call records, screen-pops out, wrap-up. Every call state change goes through here."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from crm import followups, pubsub, roles
from customers.models import ContactPoint, Customer, CustomerLookup, Interaction
from customers.normalise import phone_normalise
from customers.selectors import customer_list
from customers.services import interaction_revise, note_add, record_interaction

from .models import AgentStatus, Call, CallList, CallListEntry, CtiEvent, Disposition

logger = logging.getLogger(__name__)

EVENTS = ("ringing", "answered", "ended", "missed", "transferred")
DIRECTIONS = ("inbound", "outbound")
FINAL_EVENTS = ("ended", "missed")


@dataclass(frozen=True)
class EventData:
    call_id: str
    event: str
    direction: str
    from_: str
    to: str
    extension: str
    occurred_at: dt.datetime
    recording_url: str = ""
    agent: str = ""


def event_parse(data) -> EventData:
    """Validate one CTI event as JSON-decoded; ValidationError names each bad field."""
    if not isinstance(data, dict):
        raise ValidationError({"non_field_errors": [_("Send one JSON object per event.")]})
    errors = {}

    def text(name, *, required=False, limit=128):
        value = data.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str | int):
            errors[name] = [_("Must be a string.")]
            return ""
        value = str(value).strip()
        if "\x00" in value:
            errors[name] = [_("Null characters are not allowed.")]
            return ""
        if required and not value:
            errors[name] = [_("This field is required.")]
        elif len(value) > limit:
            errors[name] = [_("At most %(limit)d characters.") % {"limit": limit}]
        return value

    call_id = text("call_id", required=True)
    event = text("event", required=True)
    if event and event not in EVENTS:
        errors["event"] = [_("Must be one of: %(values)s.") % {"values": ", ".join(EVENTS)}]
    direction = text("direction") or "inbound"
    if direction not in DIRECTIONS:
        errors["direction"] = [_("Must be inbound or outbound.")]
    from_, to = text("from", limit=64), text("to", limit=64)
    extension = text("extension", limit=100)
    recording_url = text("recording_url", limit=1000)
    if recording_url and not recording_url.startswith(("http://", "https://")):
        errors["recording_url"] = [_("Must be an http(s) URL.")]
    agent = text("agent", limit=150)
    raw_time = text("occurred_at", required=True, limit=40)
    occurred_at = None
    if raw_time:
        try:
            occurred_at = parse_datetime(raw_time)
        except ValueError:
            occurred_at = None
        if occurred_at is None:
            errors["occurred_at"] = [_("Use ISO 8601, e.g. 2026-11-23T09:30:00+08:00.")]
        elif timezone.is_naive(occurred_at):
            occurred_at = timezone.make_aware(occurred_at, dt.UTC)
    if errors:
        raise ValidationError(errors)
    return EventData(call_id, event, direction, from_, to, extension, occurred_at, recording_url, agent)


def cti_event_ingest(
    *, data: EventData, payload: dict, source: str = CtiEvent.Source.HTTP
) -> tuple[Call | None, bool]:
    """Store the raw event (once), then bring the call record up to date and tell the agents' screens.

    Returns (call, True) for a new event and (None, False) for a repeat of one already received.
    """
    try:
        with transaction.atomic():
            CtiEvent.objects.create(
                call_id=data.call_id,
                event=data.event,
                payload=payload,
                occurred_at=data.occurred_at,
                source=source,
            )
    except IntegrityError:
        return None, False
    return call_refresh(call_id=data.call_id), True


def call_refresh(*, call_id: str) -> Call:
    """Recompute the call from every event received for it, whatever order they came in. Idempotent."""
    with transaction.atomic():
        call = _locked_call(call_id)
        before = (call.state, call.extension, call.agent_id, call.customer_id)
        events = {e.event: e for e in CtiEvent.objects.filter(call_id=call_id).order_by("occurred_at", "id")}
        _apply(call, events)
        if call.customer_id is None and not call.candidates:
            _match(call)
        call.save()
        _record_on_timeline(call)
        _request_callback_if_missed(call, events)
        rang = _extensions(events["ringing"].payload.get("extension")) if "ringing" in events else []
        after = (call.state, call.extension, call.agent_id, call.customer_id)
        if after != before:
            transaction.on_commit(lambda: screens_update(call_id=call.call_id, rang=rang))
    return call


def _locked_call(call_id):
    call = Call.objects.select_for_update().filter(call_id=call_id).first()
    if call is not None:
        return call
    try:
        with transaction.atomic():
            Call.objects.create(call_id=call_id, direction=Call.Direction.INBOUND)
    except IntegrityError:
        pass  # created by a concurrent event for the same call
    return Call.objects.select_for_update().get(call_id=call_id)


def _extensions(value) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def _apply(call, events):
    ordered = sorted(events.values(), key=lambda e: (e.occurred_at, e.id))
    first = events.get("ringing") or ordered[0]
    payload = first.payload
    call.direction = payload.get("direction") or call.direction
    call.from_raw = str(payload.get("from") or call.from_raw)[:64]
    call.to_raw = str(payload.get("to") or call.to_raw)[:64]
    call.from_number = _normalised(call.from_raw)
    call.to_number = _normalised(call.to_raw)
    call.ringing_at = first.occurred_at
    answered = events.get("answered")
    end = events.get("ended") or events.get("missed")
    call.answered_at = answered.occurred_at if answered else None
    call.ended_at = end.occurred_at if end else None
    if end:
        call.state = Call.State.ENDED if answered else Call.State.MISSED
    elif answered:
        call.state = Call.State.ANSWERED
    else:
        call.state = Call.State.RINGING
    # Who has the call: the last answer or transfer that names an extension, else where it rang.
    owners = [e for e in ordered if e.event in ("answered", "transferred") and e.payload.get("extension")]
    call.extension = str((owners[-1] if owners else first).payload.get("extension") or "")[:100]
    for event in ordered:
        if event.payload.get("recording_url"):
            call.recording_url = event.payload["recording_url"]
    call.agent = _agent_for(owners[-1].payload if owners else first.payload, single=bool(owners))
    if call.answered_at and call.ended_at:
        call.talk_seconds = max(0, int((call.ended_at - call.answered_at).total_seconds()))
    else:
        call.talk_seconds = None
    picked_up = call.answered_at or call.ended_at
    call.wait_seconds = max(0, int((picked_up - call.ringing_at).total_seconds())) if picked_up else None


def _normalised(raw):
    if not raw:
        return ""
    try:
        return phone_normalise(raw)[0]
    except ValidationError:
        return raw


def _agent_for(payload, *, single):
    users = get_user_model().objects.filter(is_active=True)
    if payload.get("agent"):
        agent = users.filter(username=payload["agent"]).first()
        if agent is not None:
            return agent
    extensions = _extensions(payload.get("extension"))
    if single or len(extensions) == 1:
        return users.filter(extension__in=extensions[:1]).first() if extensions else None
    return None


def _match(call):
    number = call.caller_number
    if not number.startswith("+"):
        return
    ids = list(
        ContactPoint.objects.filter(kind=ContactPoint.Kind.PHONE, normalised=number)
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .distinct()[:10]
    )
    if len(ids) == 1:
        call.customer_id = ids[0]
    call.candidates = ids if len(ids) > 1 else []


def _summary(call):
    """The timeline text. It never holds the number: timelines are shown to people who see it masked."""
    if call.state == Call.State.MISSED:
        if call.direction == Call.Direction.INBOUND:
            return _("Missed call")
        return _("Outbound call not answered")
    minutes, seconds = divmod(call.talk_seconds or 0, 60)
    values = {"minutes": minutes, "seconds": seconds}
    if call.direction == Call.Direction.INBOUND:
        return _("Inbound call, %(minutes)d min %(seconds)02d s") % values
    return _("Outbound call, %(minutes)d min %(seconds)02d s") % values


def _timeline_data(call):
    return {
        "call_id": call.call_id,
        "direction": call.direction,
        "state": call.state,
        "talk_seconds": call.talk_seconds,
        "wait_seconds": call.wait_seconds,
        "extension": call.extension,
        "recording_url": call.recording_url,
    }


def _record_on_timeline(call):
    if call.customer_id is None or call.is_live:
        return
    if call.timeline_entry_id is None:
        call.timeline_entry = record_interaction(
            customer=call.customer,
            kind=Interaction.Kind.CALL,
            channel=Interaction.Channel.PHONE,
            summary=_summary(call),
            occurred_at=call.ringing_at,
            actor=call.agent,
            subject=call,
            data=_timeline_data(call),
        )
        call.save(update_fields=["timeline_entry"])
    else:
        interaction_revise(interaction=call.timeline_entry, summary=_summary(call), data=_timeline_data(call))


def _request_callback_if_missed(call, events):
    if (
        call.state != Call.State.MISSED
        or call.direction != Call.Direction.INBOUND
        or call.customer_id is None
    ):
        return
    already = Interaction.objects.filter(
        customer_id=call.customer_id, kind=Interaction.Kind.TASK, data__call_id=call.call_id
    )
    if already.exists():
        return
    followups.create(
        followups.FollowUp(
            kind=followups.TASK,
            customer=call.customer,
            title=_("Call back after a missed call"),
            team=call.customer.team or (call.agent.team if call.agent else None),
            due_at=call.ended_at + dt.timedelta(hours=1),
            source=call,
            data={"call_id": call.call_id, "reason": "missed_call"},
        )
    )


def screens_update(*, call_id: str, rang: list[str]) -> None:
    """Show, refresh or close the call's card on every agent screen it concerns."""
    from .cards import card_html

    call = Call.objects.select_related("customer", "agent").get(call_id=call_id)
    users = get_user_model().objects.filter(is_active=True, extension__in=set(rang) | {call.extension} - {""})
    for user in users:
        mine = call.state == Call.State.RINGING or user.pk == call.agent_id
        html = card_html(call=call, user=user) if mine else ""  # answered elsewhere: close the pop
        pubsub.publish(pubsub.user_channel(user.pk), "call", html)


def grant_lookup(*, call: Call, user) -> None:
    """The agent a call rings for may open the caller's profile, as after an exact number lookup."""
    ids = [call.customer_id] if call.customer_id else list(call.candidates)
    CustomerLookup.objects.bulk_create(
        [CustomerLookup(user=user, customer_id=pk, number=call.caller_number[:40]) for pk in ids]
    )


def check_can_handle(user, call: Call) -> None:
    if not (user.is_active and user.has_perm("callcenter.change_call")):
        raise PermissionDenied(_("You may not handle calls."))
    if call.agent_id != user.pk and not (user.extension and user.extension in _extensions(call.extension)):
        from crm import roles

        if not roles.is_admin(user) and not roles.is_manager(user):
            raise PermissionDenied(_("This call is not yours."))


@transaction.atomic
def call_set_customer(*, call: Call, customer: Customer, actor) -> Call:
    """The agent says which of several possible customers is calling (or links a new one)."""
    check_can_handle(actor, call)
    call = Call.objects.select_for_update().get(pk=call.pk)
    call.customer = customer
    call.candidates = []
    call.save(update_fields=["customer", "candidates", "updated_at"])
    _record_on_timeline(call)
    return call


@transaction.atomic
def call_wrap_up(
    *,
    call: Call,
    actor,
    disposition: Disposition | None,
    note: str = "",
    create_ticket: bool = False,
    create_task: bool = False,
    task_due_at: dt.datetime | None = None,
) -> Call:
    """One form after the call: disposition, note, and with one click a ticket or a follow-up task."""
    check_can_handle(actor, call)
    call = Call.objects.select_for_update(of=("self",)).select_related("customer").get(pk=call.pk)
    if call.state == Call.State.RINGING:
        raise ValidationError({"disposition": _("The call has not been answered yet.")})
    if call.customer_id is None:
        _match(call)
        if call.customer_id is None and (create_ticket or create_task or note.strip()):
            raise ValidationError({"customer": _("Choose or create the customer first.")})
    call.disposition = disposition
    call.notes = note.strip()
    call.wrapped_up_at = timezone.now()
    call.save()
    if call.customer_id is not None:
        _record_on_timeline(call)
        if call.notes:
            note_add(customer=call.customer, actor=actor, text=call.notes)
        if create_ticket:
            followups.create(
                followups.FollowUp(
                    kind=followups.TICKET,
                    customer=call.customer,
                    title=(call.notes.splitlines() or [_("Phone call")])[0],
                    actor=actor,
                    assignee=actor,
                    note=call.notes,
                    source=call,
                    data={"call_id": call.call_id, "channel": "phone"},
                )
            )
        if create_task:
            followups.create(
                followups.FollowUp(
                    kind=followups.TASK,
                    customer=call.customer,
                    title=_("Follow up on the call with %(name)s") % {"name": call.customer.name},
                    actor=actor,
                    assignee=actor,
                    due_at=task_due_at or timezone.now() + dt.timedelta(days=1),
                    note=call.notes,
                    source=call,
                    data={"call_id": call.call_id},
                )
            )
    return call


def agent_status_set(*, user, status: str) -> AgentStatus:
    if status not in AgentStatus.Status.values:
        raise ValidationError({"status": _("Choose available, busy, away or offline.")})
    agent_status, _created = AgentStatus.objects.update_or_create(
        user=user, defaults={"status": status, "changed_at": timezone.now()}
    )
    return agent_status


# Call lists: a manager builds a list of customers to call from a customer search, hands it to agents,
# and the agents take one customer after another, each shown on their screen like an incoming call.

CALL_LIST_MAX_ENTRIES = 5000
CALL_LIST_FILTERS = ("owner", "team", "tag", "lifecycle")
_BATCH = 1000


def call_list_team_ids(user) -> list[int] | None:
    """The teams whose call lists `user` runs: their own and those they manage; None means every team."""
    if roles.is_admin(user):
        return None
    ids = set(user.managed_teams.values_list("id", flat=True))
    if user.team_id:
        ids.add(user.team_id)
    return sorted(ids)


def can_manage_call_lists(user) -> bool:
    return (
        user.is_authenticated
        and user.is_active
        and (roles.is_admin(user) or roles.is_manager(user))
        and user.has_perm("callcenter.change_calllist")
    )


def can_work_call_lists(user) -> bool:
    return user.is_authenticated and user.is_active and user.has_perm("callcenter.change_calllistentry")


def call_lists_managed_by(user, queryset=None):
    """Lists a manager may see and run: their teams' and their own; admins every list."""
    queryset = CallList.objects.all() if queryset is None else queryset
    if not can_manage_call_lists(user):
        return queryset.none()
    team_ids = call_list_team_ids(user)
    if team_ids is None:
        return queryset
    return queryset.filter(Q(team_id__in=team_ids) | Q(created_by=user))


def call_lists_worked_by(user, queryset=None):
    """Lists `user` may work: those with customers handed to them, and their team's lists.

    A team's agents share the customers of their team's lists that nobody was handed.
    """
    queryset = CallList.objects.all() if queryset is None else queryset
    if not can_work_call_lists(user):
        return queryset.none()
    condition = Q(Exists(CallListEntry.objects.filter(call_list=OuterRef("pk"), assigned_to=user)))
    if user.team_id:
        condition |= Q(team_id=user.team_id)
    return queryset.filter(condition)


def call_list_agents(user):
    """Who a manager may hand customers to: active users allowed to work call lists, with an
    extension, in the manager's teams."""
    user_model = get_user_model()
    if not can_manage_call_lists(user):
        return user_model.objects.none()
    permission = Permission.objects.filter(
        content_type__app_label="callcenter", codename="change_calllistentry"
    )
    holders = user_model.objects.filter(
        Q(is_superuser=True) | Q(groups__permissions__in=permission) | Q(user_permissions__in=permission)
    )
    agents = user_model.objects.filter(is_active=True, pk__in=holders.values("pk")).exclude(extension="")
    team_ids = call_list_team_ids(user)
    if team_ids is not None:
        agents = agents.filter(team_id__in=team_ids)
    return agents.select_related("team").order_by("first_name", "last_name", "username")


def _check_manages(actor, call_list: CallList) -> None:
    if not call_lists_managed_by(actor).filter(pk=call_list.pk).exists():
        raise PermissionDenied(_("You do not run this call list."))


def call_list_search_clean(*, q: str = "", filters: dict | None = None) -> dict:
    """The search a list is built from, checked and in the shape it is stored in (CallList.filters)."""
    errors = {}
    text = str(q or "").strip()
    if "\x00" in text or len(text) > 100:
        errors["q"] = [_("Search for at most 100 characters.")]
    clean = {"q": text}
    filters = filters or {}
    unknown = set(filters) - set(CALL_LIST_FILTERS)
    if unknown:
        errors["filters"] = [_("Unknown filter: %(names)s.") % {"names": ", ".join(sorted(unknown))}]
    for key in ("owner", "team", "tag"):
        value = filters.get(key)
        value = getattr(value, "pk", value)
        try:
            clean[key] = int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            errors[key] = [_("Choose from the list.")]
    lifecycle = filters.get("lifecycle") or ""
    if lifecycle and lifecycle not in Customer.Lifecycle.values:
        errors["lifecycle"] = [_("Choose from the list.")]
    clean["lifecycle"] = lifecycle
    if errors:
        raise ValidationError(errors)
    return clean


def call_list_candidates(*, user, q: str = "", filters: dict | None = None):
    """The customers a search would put on a list: those `user` can see that match it and have a phone."""
    search = call_list_search_clean(q=q, filters=filters)
    has_phone = Exists(ContactPoint.objects.filter(customer=OuterRef("pk"), kind=ContactPoint.Kind.PHONE))
    return (
        customer_list(
            user=user,
            q=search["q"],
            owner=search["owner"],
            team=search["team"],
            tag=search["tag"],
            lifecycle=search["lifecycle"],
        )
        .filter(has_phone)
        .select_related(None)
        .prefetch_related(None)
    )


def call_list_candidate_count(*, user, q: str = "", filters: dict | None = None) -> int:
    """How many customers the search would put on a list, counted up to one past the cap."""
    return (
        call_list_candidates(user=user, q=q, filters=filters).order_by()[: CALL_LIST_MAX_ENTRIES + 1].count()
    )


@transaction.atomic
def call_list_create_from_search(
    *, actor, name: str, q: str = "", filters: dict | None = None, team=None
) -> tuple[CallList, bool]:
    """A new open list of the customers the search finds, in the search's order.

    Returns the list and whether it was capped at CALL_LIST_MAX_ENTRIES.
    """
    if not (can_manage_call_lists(actor) and actor.has_perm("callcenter.add_calllist")):
        raise PermissionDenied(_("You may not create call lists."))
    errors = {}
    name = str(name or "").strip()
    if not name or "\x00" in name:
        errors["name"] = [_("Give the list a name.")]
    elif len(name) > 200:
        errors["name"] = [_("A name can be at most 200 characters.")]
    team_ids = call_list_team_ids(actor)
    if team_ids is not None:
        if not team_ids:
            errors["team"] = [_("You manage no team yet: ask an admin to make you a team's manager.")]
        elif team is None or team.pk not in team_ids:
            errors["team"] = [_("Choose one of your teams.")]
    try:
        search = call_list_search_clean(q=q, filters=filters)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    found = call_list_candidates(
        user=actor, q=search["q"], filters={key: search[key] for key in CALL_LIST_FILTERS}
    ).values_list("pk", flat=True)
    customer_ids = list(dict.fromkeys(found[: CALL_LIST_MAX_ENTRIES + 1]))
    capped = len(customer_ids) > CALL_LIST_MAX_ENTRIES
    customer_ids = customer_ids[:CALL_LIST_MAX_ENTRIES]
    if not customer_ids:
        raise ValidationError(
            {"q": [_("No customer you can see matches this search and has a phone number.")]}
        )
    call_list = CallList.objects.create(name=name, created_by=actor, team=team, filters=search)
    CallListEntry.objects.bulk_create(
        [
            CallListEntry(call_list=call_list, customer_id=customer_id, position=position)
            for position, customer_id in enumerate(customer_ids, start=1)
        ],
        batch_size=_BATCH,
    )
    return call_list, capped


@transaction.atomic
def call_list_assign(*, actor, call_list: CallList, agents) -> dict[int, int]:
    """Share the customers not yet called between `agents`, taking turns in list order.

    Customers being called or already called stay with whoever has them. Returns how many each agent got.
    """
    _check_manages(actor, call_list)
    call_list = CallList.objects.select_for_update().get(pk=call_list.pk)
    if not call_list.is_open:
        raise ValidationError({"agents": [_("This list is closed.")]})
    agents = sorted({agent.pk: agent for agent in agents}.values(), key=lambda agent: agent.pk)
    if not agents:
        raise ValidationError({"agents": [_("Choose at least one agent.")]})
    allowed = set(call_list_agents(actor).filter(pk__in=[a.pk for a in agents]).values_list("pk", flat=True))
    refused = [str(agent) for agent in agents if agent.pk not in allowed]
    if refused:
        raise ValidationError(
            {
                "agents": [
                    _("Not an active agent with an extension in your teams: %(names)s.")
                    % {"names": ", ".join(refused)}
                ]
            }
        )
    pending = list(
        CallListEntry.objects.select_for_update()
        .filter(call_list=call_list, state=CallListEntry.State.PENDING)
        .order_by("pk")
        .values_list("pk", "position")
    )
    if not pending:
        raise ValidationError(
            {"agents": [_("Every customer on this list has been called or is being called.")]}
        )
    pending.sort(key=lambda row: (row[1], row[0]))
    shares = {agent.pk: [] for agent in agents}
    for index, (entry_id, _position) in enumerate(pending):
        shares[agents[index % len(agents)].pk].append(entry_id)
    for agent_id, entry_ids in shares.items():
        for start in range(0, len(entry_ids), _BATCH):
            CallListEntry.objects.filter(pk__in=entry_ids[start : start + _BATCH]).update(
                assigned_to_id=agent_id
            )
    return {agent_id: len(entry_ids) for agent_id, entry_ids in shares.items()}


@transaction.atomic
def call_list_close(*, actor, call_list: CallList) -> CallList:
    """No more customers are handed out; agents may still wrap up the one they are calling."""
    _check_manages(actor, call_list)
    call_list = CallList.objects.select_for_update().get(pk=call_list.pk)
    if call_list.is_open:
        call_list.status = CallList.Status.CLOSED
        call_list.save(update_fields=["status"])
    return call_list


@transaction.atomic
def call_list_next(*, agent, call_list: CallList) -> CallListEntry | None:
    """The customer the agent calls now, shown on their screen; None when nothing is left for them.

    An agent finishes the customer they are calling before getting another. Customers handed to the
    agent come first, then unassigned ones on their team's list; rows another agent is taking at this
    very moment are skipped, so two agents never get the same customer.
    """
    if not can_work_call_lists(agent):
        raise PermissionDenied(_("You may not work call lists."))
    if not call_lists_worked_by(agent).filter(pk=call_list.pk).exists():
        raise PermissionDenied(_("This call list has nothing for you."))
    # One agent clicking in two tabs gets one customer, not two.
    no_key = transaction.get_connection().features.has_select_for_no_key_update
    get_user_model().objects.select_for_update(no_key=no_key).filter(pk=agent.pk).first()
    call_list = CallList.objects.get(pk=call_list.pk)
    entry = (
        CallListEntry.objects.filter(
            call_list=call_list, assigned_to=agent, state=CallListEntry.State.IN_PROGRESS
        )
        .order_by("position", "pk")
        .first()
    )
    if entry is None:
        if not call_list.is_open:
            raise ValidationError(_("This list is closed: there are no more customers to call."))
        waiting = (
            CallListEntry.objects.select_for_update(skip_locked=True)
            .filter(call_list=call_list, state=CallListEntry.State.PENDING)
            .order_by("position", "pk")
        )
        entry = waiting.filter(assigned_to=agent).first()
        if entry is None and call_list.team_id is not None and call_list.team_id == agent.team_id:
            entry = waiting.filter(assigned_to__isnull=True).first()
        if entry is None:
            return None
        entry.assigned_to = agent
        entry.state = CallListEntry.State.IN_PROGRESS
        entry.save(update_fields=["assigned_to", "state"])
    entry_id = entry.pk

    def show_on_screen():
        html = call_list_card_html(call_list=call_list, entry_id=entry_id, user=agent)
        pubsub.publish(pubsub.user_channel(agent.pk), "call", html)

    transaction.on_commit(show_on_screen)
    return entry


@transaction.atomic
def call_list_entry_complete(
    *,
    agent,
    entry: CallListEntry,
    disposition: Disposition | None = None,
    note: str = "",
    state: str = CallListEntry.State.DONE,
) -> CallListEntry:
    """The agent's wrap-up of one customer on a list: the outcome, on the customer's timeline too."""
    if not can_work_call_lists(agent):
        raise PermissionDenied(_("You may not work call lists."))
    entry = (
        CallListEntry.objects.select_for_update(of=("self",))
        .select_related("call_list", "customer")
        .get(pk=entry.pk)
    )
    if entry.assigned_to_id != agent.pk:
        raise PermissionDenied(_("This customer is on another agent's list."))
    if state not in (CallListEntry.State.DONE, CallListEntry.State.SKIPPED):
        raise ValidationError({"state": [_("Choose done or skip.")]})
    if entry.is_finished:
        raise ValidationError({"state": [_("This customer has already been wrapped up.")]})
    if entry.state != CallListEntry.State.IN_PROGRESS:
        raise ValidationError({"state": [_("Take this customer with “Next customer” first.")]})
    if state == CallListEntry.State.DONE and disposition is None:
        raise ValidationError({"disposition": [_("Choose how the call went.")]})
    if disposition is not None and not disposition.active:
        raise ValidationError({"disposition": [_("Choose a disposition from the list.")]})
    note = str(note or "").replace("\x00", "").strip()
    if len(note) > 5000:
        raise ValidationError({"note": [_("A note can be at most 5000 characters.")]})
    now = timezone.now()
    if disposition is not None and state == CallListEntry.State.DONE:
        outcome = disposition.name
    elif disposition is not None:
        outcome = _("skipped (%(disposition)s)") % {"disposition": disposition.name}
    else:
        outcome = _("skipped")
    record_interaction(
        customer=entry.customer,
        kind=Interaction.Kind.CALL,
        channel=Interaction.Channel.PHONE,
        summary=_("Call list “%(name)s”: %(outcome)s") % {"name": entry.call_list.name, "outcome": outcome},
        occurred_at=now,
        actor=agent,
        subject=entry,
        data={
            "call_list_id": entry.call_list_id,
            "entry_id": entry.pk,
            "state": state,
            "disposition": disposition.name if disposition else None,
            "attempt": entry.attempts + 1,
        },
    )
    if note:
        note_add(customer=entry.customer, actor=agent, text=note)
    entry.state = state
    entry.disposition = disposition
    entry.note = note
    entry.attempts += 1
    entry.last_attempt_at = now
    entry.done_by = agent
    entry.done_at = now
    entry.save(
        update_fields=["state", "disposition", "note", "attempts", "last_attempt_at", "done_by", "done_at"]
    )
    return entry


def _primary_phone(customer_id) -> tuple[int | None, str]:
    """The customer's primary phone: its contact id (for click-to-call) and E.164 number."""
    row = (
        ContactPoint.objects.filter(customer_id=customer_id, kind=ContactPoint.Kind.PHONE)
        .order_by("-is_primary", "id")
        .values_list("pk", "normalised")
        .first()
    )
    return row or (None, "")


def call_list_card_context(*, call_list: CallList, entry: CallListEntry | None, user) -> dict:
    """What the list card shows: the caller card's customer summary for the customer to call.

    Like a ringing call, it lets the agent open that customer's profile.
    """
    from .cards import card_context

    context = {"call_list": call_list, "entry": entry, "phone": "", "phone_contact_id": None}
    if entry is None:
        return context
    contact_id, phone = _primary_phone(entry.customer_id)
    preview = Call(direction=Call.Direction.OUTBOUND, to_number=phone, customer_id=entry.customer_id)
    return {
        **card_context(call=preview, user=user),
        **context,
        "phone": phone,
        "phone_contact_id": contact_id,
    }


def call_list_card_html(
    *, call_list: CallList, entry_id: int | None, user, error: str = "", draft: dict | None = None
) -> str:
    """The list card for the agent's pop, in the agent's language."""
    entry = (
        CallListEntry.objects.select_related("disposition").filter(pk=entry_id, call_list=call_list).first()
        if entry_id
        else None
    )
    with (
        translation.override(user.language or settings.LANGUAGE_CODE),
        timezone.override(user.timezone or settings.TIME_ZONE),
    ):
        context = call_list_card_context(call_list=call_list, entry=entry, user=user)
        return render_to_string(
            "callcenter/list_card.html", {**context, "error": error, "draft": draft or {}, "inline": False}
        )
