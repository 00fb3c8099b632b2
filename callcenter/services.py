"""Calls: CTI events in, call records, screen-pops out, wrap-up. Every call state change goes through here."""

import datetime as dt
import logging
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from crm import followups, pubsub
from customers.models import ContactPoint, Customer, CustomerLookup, Interaction
from customers.normalise import phone_display, phone_normalise
from customers.services import interaction_revise, note_add, record_interaction

from .models import AgentStatus, Call, CtiEvent, Disposition

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
    number = phone_display(call.caller_number) if call.caller_number.startswith("+") else call.caller_number
    if call.state == Call.State.MISSED:
        if call.direction == Call.Direction.INBOUND:
            return _("Missed call from %(number)s") % {"number": number}
        return _("Call to %(number)s not answered") % {"number": number}
    minutes, seconds = divmod(call.talk_seconds or 0, 60)
    values = {"number": number, "minutes": minutes, "seconds": seconds}
    if call.direction == Call.Direction.INBOUND:
        return _("Call from %(number)s, %(minutes)d min %(seconds)02d s") % values
    return _("Call to %(number)s, %(minutes)d min %(seconds)02d s") % values


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
            title=_("Call back %(number)s (missed call)") % {"number": phone_display(call.caller_number)},
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
        title_number = (
            phone_display(call.caller_number) if call.caller_number.startswith("+") else call.caller_number
        )
        if create_ticket:
            followups.create(
                followups.FollowUp(
                    kind=followups.TICKET,
                    customer=call.customer,
                    title=(call.notes.splitlines() or [_("Call from %(number)s") % {"number": title_number}])[
                        0
                    ],
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
