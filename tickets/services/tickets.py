"""Ticket writes: create, reply, status, changes, merge, follow, bulk actions, and the call wrap-up's
"Open a ticket". Each checks permission, validates everything before writing, runs in one
transaction, and puts status changes, public replies, assignments and merges on the customer's timeline."""

import datetime as dt
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import followups
from customers.models import Customer, Interaction
from customers.permissions import customers_visible_to
from customers.services import phone_lookup

from ..attachments import CheckedFile, attachment_check
from ..csat import csat_queue
from ..locks import lock_ticket, lock_tickets
from ..mail.outbound import reply_queue
from ..models import Category, Priority, Ticket, TicketAttachment, TicketComment, TicketTag
from ..selectors import allowed_transitions, sla_config, tickets_visible_to
from .assignment import (
    assignment_record,
    assignment_set,
    auto_assign_on_create,
    check_assignee,
    check_can_assign,
)
from .clock import sla_apply, sla_pause, sla_refresh, sla_resume
from .timeline import assignee_tell, followers_tell, ticket_record

SUBJECT_MAX = 200
BODY_MAX = 20000
MAX_TAGS = 20
MAX_CUSTOM_FIELDS = 50
MAX_ATTACHMENTS = 10
BULK_MAX = 200

CHANNELS = {
    Ticket.Source.PHONE: Interaction.Channel.PHONE,
    Ticket.Source.LINE: Interaction.Channel.LINE,
    Ticket.Source.WECHAT: Interaction.Channel.WECHAT,
    Ticket.Source.EMAIL: Interaction.Channel.EMAIL,
    Ticket.Source.WEB: Interaction.Channel.WEB,
    Ticket.Source.MANUAL: Interaction.Channel.CRM,
}


# Apps that carry a ticket's public replies elsewhere register here (the social inbox sends them to
# LINE or WeChat when the ticket was opened from a conversation): listener(ticket, comment), called
# inside the reply's transaction.
PUBLIC_REPLY_LISTENERS: list = []


class _Unchanged:
    def __repr__(self):
        return "UNCHANGED"


UNCHANGED = _Unchanged()


# Checks -----------------------------------------------------------------------------------------


def check_can_view(user, ticket: Ticket) -> None:
    if not tickets_visible_to(user).filter(pk=ticket.pk).exists():
        raise PermissionDenied(_("You do not have access to this ticket."))


def check_can_change(user, ticket: Ticket) -> None:
    if user is None:
        return
    if not user.has_perm("tickets.change_ticket"):
        raise PermissionDenied(_("You may not change tickets."))
    check_can_view(user, ticket)


def _text(value, *, name: str, limit: int, errors: dict, required_message: str = "") -> str:
    text = str(value or "").replace("\x00", "").strip()
    if required_message and not text:
        errors.setdefault(name, []).append(required_message)
    elif len(text) > limit:
        errors.setdefault(name, []).append(_("At most %(limit)d characters.") % {"limit": limit})
    return text


def _choice(value, choices, *, name: str, errors: dict) -> str:
    if value not in choices.values:
        errors.setdefault(name, []).append(
            _("Choose one of: %(values)s.") % {"values": ", ".join(choices.values)}
        )
    return value


def _custom_fields(value, errors: dict) -> dict:
    if value in (None, ""):
        return {}
    if not isinstance(value, dict):
        errors.setdefault("custom_fields", []).append(_("Send an object of names and values."))
        return {}
    if len(value) > MAX_CUSTOM_FIELDS:
        errors.setdefault("custom_fields", []).append(
            _("At most %(limit)d custom fields.") % {"limit": MAX_CUSTOM_FIELDS}
        )
        return {}
    clean = {}
    for key, item in value.items():
        key = str(key).replace("\x00", "").strip()
        if isinstance(item, bool | int | float) or item is None:
            item = "" if item is None else str(item)
        if not key or len(key) > 50 or not isinstance(item, str) or len(item) > 500 or "\x00" in item:
            errors.setdefault("custom_fields", []).append(
                _("Names are 1 to 50 characters and values plain text of at most 500.")
            )
            return {}
        clean[key] = item.strip()
    return clean


def _tag_names(names, errors: dict) -> list[str]:
    clean = []
    for name in names or ():
        name = str(name).replace("\x00", "").strip()
        if not name:
            continue
        if len(name) > 50:
            errors.setdefault("tags", []).append(_("A tag can be at most 50 characters."))
            return []
        if name.lower() not in (n.lower() for n in clean):
            clean.append(name)
    if len(clean) > MAX_TAGS:
        errors.setdefault("tags", []).append(_("At most %(limit)d tags.") % {"limit": MAX_TAGS})
        return []
    return clean


def _checked_files(files, errors: dict, name: str = "attachments") -> list[CheckedFile]:
    files = list(files or ())
    if len(files) > MAX_ATTACHMENTS:
        errors.setdefault(name, []).append(_("At most %(limit)d files at once.") % {"limit": MAX_ATTACHMENTS})
        return []
    checked = []
    for upload in files:
        try:
            checked.append(attachment_check(upload))
        except ValidationError as exc:
            errors.setdefault(name, []).extend(exc.messages)
    return checked


def _category(category, errors: dict):
    if category is not None and not (isinstance(category, Category) and category.active):
        errors.setdefault("category", []).append(_("Choose an active category."))
    return category


def tags_from_names(names) -> list[TicketTag]:
    tags = []
    for name in names:
        tag = TicketTag.objects.filter(name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = TicketTag.objects.create(name=name)
            except IntegrityError:  # created by a concurrent request a moment ago
                tag = TicketTag.objects.get(name=name)
        tags.append(tag)
    return tags


def _store_attachments(
    ticket, files: list[CheckedFile], *, comment=None, actor=None
) -> list[TicketAttachment]:
    stored = []
    for checked in files:
        checked.upload.name = checked.name
        stored.append(
            TicketAttachment.objects.create(
                ticket=ticket,
                comment=comment,
                file=checked.upload,
                original_name=checked.name,
                content_type=checked.content_type,
                size=checked.size,
                uploaded_by=actor if actor is not None and actor.is_authenticated else None,
            )
        )
    return stored


def customer_resolve(*, user, customer_id=None, phone: str = "") -> Customer:
    """The customer a new ticket is for, by id or by exact phone number; ValidationError names the field.

    A phone lookup counts as one for the agents' lookup grant (customers.services.phone_lookup).
    """
    if customer_id:
        customer = customers_visible_to(user).filter(pk=customer_id).first()
        if customer is None:
            raise ValidationError({"customer": _("No customer found, or you do not have access to it.")})
        return customer
    if not str(phone or "").strip():
        raise ValidationError({"customer": _("Give the customer's id or phone number.")})
    try:
        matches = phone_lookup(user=user, number=phone)
    except ValidationError as exc:
        raise ValidationError({"phone": exc.messages}) from None
    if not matches:
        raise ValidationError({"phone": _("No customer you can see has this number.")})
    if len(matches) > 1:
        raise ValidationError(
            {
                "phone": _(
                    "Several customers have this number; open the ticket from the right customer's page."
                )
            }
        )
    return matches[0]


# Create ------------------------------------------------------------------------------------------


@transaction.atomic
def ticket_create(
    *,
    actor,
    customer,
    subject: str,
    description: str = "",
    category: Category | None = None,
    priority: str = Priority.NORMAL,
    team=None,
    assignee=None,
    source: str = Ticket.Source.MANUAL,
    origin=None,
    tags=(),
    custom_fields: dict | None = None,
    attachments=(),
    responded: bool = False,
    now: dt.datetime | None = None,
    check_customer: bool = True,
) -> Ticket:
    """Open a ticket for `customer`. With `responded`, the customer has already been answered (a ticket
    written during a call), so the first-response target counts as met."""
    if actor is not None:
        if not actor.has_perm("tickets.add_ticket"):
            raise PermissionDenied(_("You may not create tickets."))
        if check_customer and not customers_visible_to(actor).filter(pk=customer.pk).exists():
            raise PermissionDenied(_("You do not have access to this customer."))
    errors: dict[str, list] = {}
    subject = _text(
        subject, name="subject", limit=SUBJECT_MAX, errors=errors, required_message=_("Enter a subject.")
    )
    description = _text(description, name="description", limit=BODY_MAX, errors=errors)
    _choice(priority, Priority, name="priority", errors=errors)
    _choice(source, Ticket.Source, name="source", errors=errors)
    _category(category, errors)
    names = _tag_names(tags, errors)
    fields = _custom_fields(custom_fields, errors)
    files = _checked_files(attachments, errors)
    if assignee is not None:
        if actor is not None and assignee.pk != actor.pk and not actor.has_perm("tickets.assign_ticket"):
            errors.setdefault("assignee", []).append(_("You may only assign tickets to yourself."))
        else:
            try:
                check_assignee(assignee)
            except ValidationError as exc:
                errors.setdefault("assignee", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    if team is None:
        team = (assignee.team if assignee is not None else None) or customer.team
        if team is None and actor is not None and actor.is_authenticated:
            team = actor.team
    ticket = Ticket(
        customer=customer,
        subject=subject,
        description=description,
        category=category,
        priority=priority,
        team=team,
        source=source,
        custom_fields=fields,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        created_at=now,
        updated_at=now,
        first_responded_at=now if responded else None,
    )
    if origin is not None:
        ticket.origin = origin
    assignment = {}
    if assignee is not None:
        assignment_set(ticket, assignee=assignee, via=Ticket.AssignedVia.MANUAL, now=now)
    else:
        assignment = auto_assign_on_create(ticket)
    sla_apply(ticket, config=sla_config(), now=now)
    ticket.save()
    ticket.number = ticket.pk
    Ticket.objects.filter(pk=ticket.pk).update(number=ticket.pk)
    if names:
        ticket.tags.set(tags_from_names(names))
    _store_attachments(ticket, files, actor=actor)
    origin_data = {}
    if origin is not None:
        origin_data = {"origin": f"{origin._meta.label_lower}:{origin.pk}"}
        if getattr(origin, "call_id", None):
            origin_data["call_id"] = origin.call_id
    ticket_record(
        ticket,
        actor=actor,
        summary=_("Ticket #%(number)s opened: %(subject)s") % {"number": ticket.number, "subject": subject},
        event="created",
        channel=CHANNELS[source],
        status=ticket.status,
        priority=priority,
        source=source,
        assignee=ticket.assignee_id,
        **{f"assignment_{key}": value for key, value in assignment.items()},
        **origin_data,
    )
    assignee_tell(ticket, actor=actor)
    return ticket


def ticket_create_from_followup(followup: followups.FollowUp) -> Ticket:
    """crm.followups handler: a call wrap-up's "Open a ticket" becomes a real ticket linked to the call."""
    channel = followup.data.get("channel", "")
    source = channel if channel in Ticket.Source.values else Ticket.Source.MANUAL
    from_call = source == Ticket.Source.PHONE and followup.source is not None
    return ticket_create(
        actor=followup.actor,
        customer=followup.customer,
        subject=(followup.title or _("Follow-up"))[:SUBJECT_MAX],
        description=followup.note[:BODY_MAX],
        team=followup.team,
        assignee=followup.assignee,
        source=source,
        origin=followup.source,
        responded=from_call,
        # The caller's own agent: the call, not the customer list, is what links them.
        check_customer=False,
    )


# Status -----------------------------------------------------------------------------------------


def _check_version(ticket: Ticket, expected_version) -> None:
    if expected_version is not None and int(expected_version) != ticket.version:
        raise ValidationError(
            {
                "version": _(
                    "Someone else changed this ticket while you were looking at it. "
                    "Reload it to see their changes, then try again."
                )
            }
        )


def _status_change(
    ticket: Ticket, status: str, *, actor, now, config, transitions, notify: bool = True
) -> None:
    if status not in Ticket.Status.values:
        raise ValidationError({"status": _("Choose a status from the list.")})
    if status == ticket.status:
        return
    if status not in transitions.get(ticket.status, set()):
        raise ValidationError(
            {
                "status": _("A ticket cannot go from “%(old)s” to “%(new)s”.")
                % {"old": ticket.get_status_display(), "new": Ticket.Status(status).label}
            }
        )
    old_label = ticket.get_status_display()
    old = ticket.status
    ticket.status = status
    if old == Ticket.Status.PENDING:
        sla_resume(ticket, config=config, now=now)
    if status == Ticket.Status.SOLVED:
        ticket.solved_at = now
        ticket.closed_at = None
    elif status == Ticket.Status.CLOSED:
        ticket.closed_at = now
        ticket.solved_at = ticket.solved_at or now
    elif old in (Ticket.Status.SOLVED, Ticket.Status.CLOSED):
        ticket.solved_at = ticket.closed_at = None
    if status == Ticket.Status.PENDING:
        sla_pause(ticket, now=now)
    else:
        sla_refresh(ticket, now=now)
    ticket_record(
        ticket,
        actor=actor,
        summary=_("Ticket #%(number)s: %(old)s → %(new)s")
        % {"number": ticket.number, "old": old_label, "new": ticket.get_status_display()},
        event="status",
        old=old,
        new=status,
    )
    if notify:
        followers_tell(ticket, actor=actor, event="status", status=status)
    if status == Ticket.Status.SOLVED:
        csat_queue(ticket)


@transaction.atomic
def ticket_set_status(
    *, ticket: Ticket, actor, status: str, expected_version=None, now: dt.datetime | None = None
) -> Ticket:
    """Move the ticket to `status` if the configured transitions allow it. Pending on the customer stops
    the SLA clocks; leaving it starts them again with the paused time added."""
    check_can_change(actor, ticket)
    ticket = lock_ticket(ticket.pk)
    _check_version(ticket, expected_version)
    now = now or timezone.now()
    _status_change(
        ticket, status, actor=actor, now=now, config=sla_config(), transitions=allowed_transitions()
    )
    ticket.version += 1
    ticket.save()
    return ticket


# Reply ------------------------------------------------------------------------------------------


@transaction.atomic
def ticket_reply(
    *,
    ticket: Ticket,
    actor,
    body: str,
    internal: bool = False,
    attachments=(),
    status: str | None = None,
    now: dt.datetime | None = None,
) -> TicketComment:
    """A public reply or an internal note, optionally moving the ticket on (e.g. to pending customer).

    The first public reply meets the first-response target; on a new ticket it also opens it.
    """
    check_can_change(actor, ticket)
    errors: dict[str, list] = {}
    body = _text(
        body, name="body", limit=BODY_MAX, errors=errors, required_message=_("Write a reply or a note.")
    )
    files = _checked_files(attachments, errors)
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    ticket = lock_ticket(ticket.pk)
    if ticket.merged_into_id is not None:
        raise ValidationError(
            {
                "body": _("This ticket was merged; reply on ticket #%(number)s.")
                % {"number": ticket.merged_into_id}
            }
        )
    comment = TicketComment.objects.create(
        ticket=ticket, author=actor, body=body, internal=internal, created_at=now
    )
    _store_attachments(ticket, files, comment=comment, actor=actor)
    followers_tell(ticket, actor=actor, event="note" if internal else "reply", text=body)
    if not internal:
        for listener in PUBLIC_REPLY_LISTENERS:
            listener(ticket, comment)
    reply_queue(ticket, comment)
    config, transitions = None, None
    if not internal:
        if ticket.first_responded_at is None:
            ticket.first_responded_at = now
            sla_refresh(ticket, now=now)
        ticket_record(
            ticket,
            actor=actor,
            summary=_("Reply on ticket #%(number)s: %(text)s")
            % {"number": ticket.number, "text": body.splitlines()[0][:200]},
            event="reply",
            comment=comment.pk,
        )
        if status is None and ticket.status == Ticket.Status.NEW:
            transitions = allowed_transitions()
            if Ticket.Status.OPEN in transitions.get(Ticket.Status.NEW, set()):
                status = Ticket.Status.OPEN
    if status and status != ticket.status:
        config, transitions = sla_config(), transitions or allowed_transitions()
        # The followers already hear about the reply: one e-mail, not two.
        _status_change(
            ticket, status, actor=actor, now=now, config=config, transitions=transitions, notify=False
        )
    ticket.updated_at = now
    ticket.version += 1
    ticket.save()
    return comment


# Changes from the ticket page -------------------------------------------------------------------


@transaction.atomic
def ticket_update(
    *,
    ticket: Ticket,
    actor,
    expected_version=None,
    status=UNCHANGED,
    priority=UNCHANGED,
    category=UNCHANGED,
    team=UNCHANGED,
    assignee=UNCHANGED,
    tags=UNCHANGED,
    subject=UNCHANGED,
    custom_fields=UNCHANGED,
    now: dt.datetime | None = None,
) -> Ticket:
    """Change what the ticket page's controls change, all or nothing.

    `expected_version` is the version the form showed: a ticket changed since is refused, not overwritten.
    """
    check_can_change(actor, ticket)
    errors: dict[str, list] = {}
    if subject is not UNCHANGED:
        subject = _text(
            subject, name="subject", limit=SUBJECT_MAX, errors=errors, required_message=_("Enter a subject.")
        )
    if priority is not UNCHANGED:
        _choice(priority, Priority, name="priority", errors=errors)
    if category is not UNCHANGED and getattr(category, "pk", None) != ticket.category_id:
        _category(category, errors)
    if tags is not UNCHANGED:
        tags = _tag_names(tags, errors)
    if custom_fields is not UNCHANGED:
        custom_fields = _custom_fields(custom_fields, errors)
    if errors:
        raise ValidationError(errors)
    now = now or timezone.now()
    ticket = lock_ticket(ticket.pk)
    _check_version(ticket, expected_version)
    giving_back = assignee is None and actor is not None and ticket.assignee_id == actor.pk
    if assignee is not UNCHANGED and assignee != ticket.assignee and not giving_back:
        try:
            check_can_assign(actor, ticket, assignee=assignee)
        except PermissionDenied as exc:
            raise ValidationError({"assignee": str(exc)}) from None
        check_assignee(assignee)
    if (
        team is not UNCHANGED
        and team != ticket.team
        and actor is not None
        and not actor.has_perm("tickets.assign_ticket")
    ):
        raise ValidationError({"team": _("You may not move tickets to another team.")})
    config = sla_config()
    retarget = False
    if subject is not UNCHANGED:
        ticket.subject = subject
    if custom_fields is not UNCHANGED:
        ticket.custom_fields = custom_fields
    if priority is not UNCHANGED and priority != ticket.priority:
        old = ticket.get_priority_display()
        ticket.priority = priority
        retarget = True
        ticket_record(
            ticket,
            actor=actor,
            summary=_("Ticket #%(number)s priority: %(old)s → %(new)s")
            % {"number": ticket.number, "old": old, "new": ticket.get_priority_display()},
            event="priority",
            new=priority,
        )
    if category is not UNCHANGED and category != ticket.category:
        ticket.category = category
        retarget = True
    if retarget:
        sla_apply(ticket, config=config, now=now)
    if status is not UNCHANGED and status != ticket.status:
        _status_change(ticket, status, actor=actor, now=now, config=config, transitions=allowed_transitions())
    assigned = False
    if team is not UNCHANGED and team != ticket.team:
        ticket.team = team
        assigned = True
    if assignee is not UNCHANGED and assignee != ticket.assignee:
        assignment_set(ticket, assignee=assignee, via=Ticket.AssignedVia.MANUAL, now=now)
        assigned = True
    if tags is not UNCHANGED:
        ticket.tags.set(tags_from_names(tags))
    ticket.updated_at = now
    ticket.version += 1
    ticket.save()
    if assigned:
        assignment_record(ticket, actor=actor, data={})
    return ticket


# Followers --------------------------------------------------------------------------------------


def ticket_follow(*, ticket: Ticket, actor, follow: bool = True) -> None:
    """The actor starts or stops following the ticket."""
    check_can_view(actor, ticket)
    if follow:
        ticket.followers.add(actor)
    else:
        ticket.followers.remove(actor)


# Merge ------------------------------------------------------------------------------------------


@transaction.atomic
def ticket_merge(*, source: Ticket, target: Ticket, actor, now: dt.datetime | None = None) -> Ticket:
    """Fold a duplicate into `target`: its replies, notes, attachments, tags and followers move over,
    its description becomes a note on the target, and it is closed pointing at the target."""
    if actor is not None:
        if not actor.has_perm("tickets.merge_ticket"):
            raise PermissionDenied(_("You may not merge tickets."))
        check_can_change(actor, source)
        check_can_change(actor, target)
    if source.pk == target.pk:
        raise ValidationError({"target": _("A ticket cannot be merged into itself.")})
    now = now or timezone.now()
    locked = lock_tickets([source.pk, target.pk])
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id is not None:
        raise ValidationError(
            {"target": _("Ticket #%(number)s was already merged.") % {"number": source.number}}
        )
    if target.merged_into_id is not None:
        raise ValidationError(
            {
                "target": _("Ticket #%(number)s was merged itself; choose the ticket it went into.")
                % {"number": target.number}
            }
        )
    if source.customer_id != target.customer_id:
        raise ValidationError({"target": _("Only tickets of the same customer can be merged.")})
    if target.status == Ticket.Status.CLOSED:
        raise ValidationError(
            {"target": _("Ticket #%(number)s is closed; reopen it first.") % {"number": target.number}}
        )
    TicketComment.objects.filter(ticket=source).update(ticket=target)
    TicketAttachment.objects.filter(ticket=source).update(ticket=target)
    target.tags.add(*source.tags.all())
    target.followers.add(*source.followers.all())
    note = _("Ticket #%(number)s “%(subject)s” was merged into this ticket.") % {
        "number": source.number,
        "subject": source.subject,
    }
    if source.description:
        note += "\n\n" + source.description
    TicketComment.objects.create(ticket=target, author=actor, body=note, internal=True, created_at=now)
    TicketComment.objects.create(
        ticket=source,
        author=actor,
        body=_("Merged into ticket #%(number)s.") % {"number": target.number},
        internal=True,
        created_at=now,
    )
    if target.first_responded_at is None and source.first_responded_at is not None:
        target.first_responded_at = source.first_responded_at
        sla_refresh(target, now=now)
    old_status = source.status
    source.status = Ticket.Status.CLOSED
    source.closed_at = now
    source.solved_at = source.solved_at or now
    source.sla_paused_at = None
    source.merged_into = target
    sla_refresh(source, now=now)
    for ticket in (source, target):
        ticket.updated_at = now
        ticket.version += 1
        ticket.save()
    ticket_record(
        source,
        actor=actor,
        summary=_("Ticket #%(source)s merged into #%(target)s")
        % {"source": source.number, "target": target.number},
        event="merged",
        old=old_status,
        new=Ticket.Status.CLOSED,
        target=target.number,
    )
    return target


# Bulk actions -----------------------------------------------------------------------------------

BULK_CLOSE = "close"
BULK_ASSIGN = "assign"
BULK_TAG = "tag"
BULK_ACTIONS = (BULK_CLOSE, BULK_ASSIGN, BULK_TAG)


@dataclass
class BulkResult:
    done: list[int] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)


@transaction.atomic
def ticket_bulk(*, actor, ticket_ids, action: str, assignee=None, tag: str = "", now=None) -> BulkResult:
    """Close, assign or tag many tickets at once. Tickets the actor cannot see are left out; tickets the
    action does not fit (a transition not allowed) are skipped with the reason."""
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": _("Choose close, assign or tag.")})
    needed = "tickets.assign_ticket" if action == BULK_ASSIGN else "tickets.change_ticket"
    if not actor.has_perm(needed):
        raise PermissionDenied(_("You may not do this to tickets."))
    ids = sorted({int(pk) for pk in ticket_ids})[:BULK_MAX]
    if not ids:
        raise ValidationError({"ids": _("Select at least one ticket.")})
    errors: dict[str, list] = {}
    names = []
    if action == BULK_TAG:
        names = _tag_names([tag], errors)
        if not names and not errors:
            errors["tag"] = [_("Enter a tag.")]
    if action == BULK_ASSIGN:
        if assignee is None:
            errors["assignee"] = [_("Choose who gets the tickets.")]
        else:
            try:
                check_assignee(assignee)
            except ValidationError as exc:
                errors.setdefault("assignee", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    visible = list(tickets_visible_to(actor).filter(pk__in=ids).values_list("pk", flat=True))
    tickets = lock_tickets(visible)
    now = now or timezone.now()
    result = BulkResult()
    config, transitions = sla_config(), allowed_transitions()
    tag_objects = tags_from_names(names) if names else []
    for pk, ticket in tickets.items():
        if ticket.merged_into_id is not None:
            result.skipped[pk] = _("merged")
            continue
        if action == BULK_CLOSE:
            if ticket.status == Ticket.Status.CLOSED:
                result.skipped[pk] = _("already closed")
                continue
            try:
                _status_change(
                    ticket, Ticket.Status.CLOSED, actor=actor, now=now, config=config, transitions=transitions
                )
            except ValidationError as exc:
                result.skipped[pk] = " ".join(exc.messages)
                continue
        elif action == BULK_ASSIGN:
            if ticket.assignee_id == assignee.pk:
                result.skipped[pk] = _("already assigned")
                continue
            assignment_set(ticket, assignee=assignee, via=Ticket.AssignedVia.MANUAL, now=now)
        else:
            ticket.tags.add(*tag_objects)
        ticket.updated_at = now
        ticket.version += 1
        ticket.save()
        if action == BULK_ASSIGN:
            assignment_record(ticket, actor=actor, data={"bulk": True})
        result.done.append(pk)
    return result


@transaction.atomic
def tickets_move_customer(*, source, target) -> int:
    """For a customer merge (customers app): the duplicate's tickets now belong to the kept customer.

    Returns how many moved. The timeline entries move with the customer's own timeline.
    """
    return Ticket.objects.filter(customer=source).update(customer=target, updated_at=timezone.now())
