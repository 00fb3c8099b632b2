"""Every write to customers, their contact points, consent and the timeline goes through here."""

from dataclasses import dataclass, field

from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import DateTimeField, IntegerField, Max, OuterRef, Q, Subquery, Value
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import assign_perm, remove_perm

from crm import roles
from crm.models import AccessLog
from reports.scoring import score_recompute_soon

from . import permissions, segments, selectors
from .models import (
    Consent,
    ContactPoint,
    Customer,
    CustomerLookup,
    Interaction,
    Segment,
    SegmentMember,
    Tag,
)
from .normalise import email_normalise, phone_display, phone_normalise
from .permissions import customers_visible_to as customers_visible


def record_interaction(
    *,
    customer: Customer,
    kind: str,
    summary: str,
    channel: str = Interaction.Channel.CRM,
    occurred_at=None,
    actor=None,
    subject=None,
    data: dict | None = None,
) -> Interaction:
    """Add one entry to the customer's timeline. The only writer of Interaction rows."""
    subject_type = ContentType.objects.get_for_model(subject) if subject is not None else None
    interaction = Interaction.objects.create(
        customer=customer,
        kind=kind,
        channel=channel,
        summary=summary[:500],
        occurred_at=occurred_at or timezone.now(),
        actor=actor if actor is not None and actor.is_authenticated else None,
        subject_type=subject_type,
        subject_id=subject.pk if subject is not None else None,
        data=data or {},
    )
    last_interaction_advance(customer_ids=[customer.pk], at=interaction.occurred_at)
    if customer.last_interaction_at is None or customer.last_interaction_at < interaction.occurred_at:
        customer.last_interaction_at = interaction.occurred_at
    score_recompute_soon(customer.pk)
    return interaction


def last_interaction_advance(*, customer_ids, at=None, per_customer: dict | None = None) -> None:
    """Move Customer.last_interaction_at forward (never back) in one statement: to `at` for every
    id in `customer_ids`, or to each customer's own time in `per_customer` {id: occurred_at}."""
    if per_customer is None:
        per_customer = dict.fromkeys(customer_ids, at)
    if not per_customer:
        return
    table = connection.ops.quote_name(Customer._meta.db_table)
    if connection.vendor == "postgresql":
        ids, times = zip(*sorted(per_customer.items()), strict=True)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET last_interaction_at = GREATEST(c.last_interaction_at, v.at) "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::timestamptz[]) AS v(id, at) "
                "WHERE c.id = v.id AND (c.last_interaction_at IS NULL OR c.last_interaction_at < v.at)",
                [list(ids), list(times)],
            )
        return
    by_time: dict = {}
    for customer_id, when in per_customer.items():
        by_time.setdefault(when, []).append(customer_id)
    for when, group in by_time.items():
        Customer.objects.filter(pk__in=group).filter(
            Q(last_interaction_at__isnull=True) | Q(last_interaction_at__lt=when)
        ).update(last_interaction_at=when)


def last_interaction_recompute(*, customer_ids=None) -> int:
    """Set Customer.last_interaction_at from the timeline itself (after rows moved between
    customers, or were loaded or backdated outside record_interaction); all customers when None."""
    newest = (
        Interaction.objects.filter(customer_id=OuterRef("pk"))
        .order_by()
        .values("customer_id")
        .annotate(newest=Max("occurred_at"))
        .values("newest")
    )
    customers = (
        Customer.objects.all() if customer_ids is None else Customer.objects.filter(pk__in=customer_ids)
    )
    return customers.update(last_interaction_at=Subquery(newest))


@dataclass
class InteractionEntry:
    """One timeline entry for record_interactions(); same fields as record_interaction()."""

    customer_id: int
    kind: str
    summary: str
    channel: str = Interaction.Channel.CRM
    occurred_at: object = None
    actor_id: int | None = None
    subject: object = None
    data: dict = field(default_factory=dict)


def record_interactions(entries: list[InteractionEntry]) -> int:
    """Many timeline entries at once (webhook batches, broadcasts, imports); returns how many.

    COPY with ids reserved from the table's sequence on PostgreSQL, bulk_create elsewhere. With
    record_interaction(), the only writer of Interaction rows."""
    if not entries:
        return 0
    content_types: dict = {}

    def subject_type_id(subject):
        if subject is None:
            return None
        model = type(subject)
        if model not in content_types:
            content_types[model] = ContentType.objects.get_for_model(model).pk
        return content_types[model]

    now = timezone.now()
    if connection.vendor == "postgresql":
        from .management.bulk import INTERACTION_COLUMNS, PostgresWriter

        writer = PostgresWriter()
        first = writer.reserve(Interaction, len(entries))
        rows = [
            (
                first + offset,
                entry.customer_id,
                entry.occurred_at or now,
                entry.kind,
                entry.channel,
                entry.summary[:500],
                entry.actor_id,
                subject_type_id(entry.subject),
                entry.subject.pk if entry.subject is not None else None,
                writer.json(entry.data or {}),
                now,
            )
            for offset, entry in enumerate(entries)
        ]
        writer.write(Interaction, INTERACTION_COLUMNS, rows)
    else:
        Interaction.objects.bulk_create(
            [
                Interaction(
                    customer_id=entry.customer_id,
                    kind=entry.kind,
                    channel=entry.channel,
                    summary=entry.summary[:500],
                    occurred_at=entry.occurred_at or now,
                    actor_id=entry.actor_id,
                    subject_type_id=subject_type_id(entry.subject),
                    subject_id=entry.subject.pk if entry.subject is not None else None,
                    data=entry.data or {},
                    created_at=now,
                )
                for entry in entries
            ],
            batch_size=500,
        )
    newest: dict = {}
    for entry in entries:
        when = entry.occurred_at or now
        if entry.customer_id not in newest or newest[entry.customer_id] < when:
            newest[entry.customer_id] = when
    last_interaction_advance(customer_ids=(), per_customer=newest)
    return len(entries)


def customer_tags_add(*, customer: Customer, names, reason: str, actor=None) -> list[Tag]:
    """Add tags (created when new) without removing others; the timeline says which were new and why."""
    tags = tags_from_names(names)
    existing = set(customer.tags.filter(pk__in=[t.pk for t in tags]).values_list("pk", flat=True))
    added = [t for t in tags if t.pk not in existing]
    if added:
        customer.tags.add(*added)
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Tagged %(tags)s (%(reason)s)")
            % {"tags": ", ".join(t.name for t in added), "reason": reason},
            actor=actor,
            data={"tags_added": [t.name for t in added], "reason": reason},
        )
    return added


def interaction_revise(
    *, interaction: Interaction, summary: str | None = None, data: dict | None = None
) -> None:
    """Correct an entry its source object has changed since (e.g. a call whose late events arrived)."""
    if summary is not None:
        interaction.summary = summary[:500]
    if data is not None:
        interaction.data = data
    interaction.save(update_fields=["summary", "data"])


@dataclass
class ContactInput:
    """Contact values as typed; each is validated and normalised before anything is written."""

    phones: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)


def _contact_rows(contacts: ContactInput) -> list[ContactPoint]:
    rows, errors = [], {}
    for raw in contacts.phones:
        if not raw.strip():
            continue
        try:
            e164, extension = phone_normalise(raw)
        except ValidationError as exc:
            errors.setdefault("phones", []).extend(exc.messages)
            continue
        rows.append(
            ContactPoint(
                kind=ContactPoint.Kind.PHONE, value=raw.strip(), normalised=e164, extension=extension
            )
        )
    for raw in contacts.emails:
        if not raw.strip():
            continue
        try:
            rows.append(
                ContactPoint(kind=ContactPoint.Kind.EMAIL, value=raw.strip(), normalised=email_normalise(raw))
            )
        except ValidationError as exc:
            errors.setdefault("emails", []).extend(exc.messages)
    if errors:
        raise ValidationError(errors)
    seen = set()
    unique_rows = []
    for row in rows:
        key = (row.kind, row.normalised, row.extension)
        if key not in seen:
            seen.add(key)
            unique_rows.append(row)
    return unique_rows


def tags_from_names(names) -> list[Tag]:
    """The tags with these names, matched case-insensitively, created when new."""
    tags = []
    for name in names:
        name = name.strip()[:50]
        if name:
            tags.append(_tag_get_or_create(name))
    return tags


def _tag_get_or_create(name: str) -> Tag:
    tag = Tag.objects.filter(name__iexact=name).first()
    if tag is not None:
        return tag
    try:
        with transaction.atomic():
            return Tag.objects.create(name=name)
    except IntegrityError:  # created by a concurrent request a moment ago
        return Tag.objects.get(name=name)


@transaction.atomic
def customer_create(
    *,
    actor,
    name: str,
    kind: str = Customer.Kind.PERSON,
    organisation: Customer | None = None,
    owner=None,
    team=None,
    lifecycle_stage: str = Customer.Lifecycle.LEAD,
    source: str = "",
    tags=(),
    custom_attributes: dict | None = None,
    contacts: ContactInput | None = None,
) -> Customer:
    if actor is not None and not actor.has_perm("customers.add_customer"):
        raise PermissionDenied(_("You may not create customers."))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Enter the customer's name.")})
    if organisation is not None and organisation.kind != Customer.Kind.ORGANISATION:
        raise ValidationError({"organisation": _("Choose an organisation, not a person.")})
    rows = _contact_rows(contacts or ContactInput())
    assign_by_rules = owner is None
    if owner is None and actor is not None and actor.is_authenticated:
        owner = actor
    if team is None and owner is not None:
        team = owner.team
    customer = Customer.objects.create(
        kind=kind,
        name=name,
        organisation=organisation,
        owner=owner,
        team=team,
        lifecycle_stage=lifecycle_stage,
        source=source,
        custom_attributes=custom_attributes or {},
    )
    _set_primary(rows)
    for row in rows:
        row.customer = customer
    ContactPoint.objects.bulk_create(rows)
    if tags:
        customer.tags.set(tags_from_names(tags) if isinstance(next(iter(tags)), str) else tags)
    record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("Profile created"),
        actor=actor,
        subject=customer,
        data={"source": source} if source else {},
    )
    if assign_by_rules:
        from sales.assignment import assignment_apply

        assignment_apply(customer=customer, actor=actor)
    return customer


def _set_primary(rows):
    for kind in (ContactPoint.Kind.PHONE, ContactPoint.Kind.EMAIL):
        first = next((row for row in rows if row.kind == kind), None)
        if first is not None:
            first.is_primary = True


TRACKED_FIELDS = ("name", "kind", "organisation", "owner", "team", "lifecycle_stage", "source")


@transaction.atomic
def customer_update(*, customer: Customer, actor, tags=None, **changes) -> Customer:
    """Change profile fields; each changed field is written to the timeline with who changed it."""
    if actor is not None and not permissions.can_edit(actor, customer):
        raise PermissionDenied(_("You may not edit this customer."))
    unknown = set(changes) - set(TRACKED_FIELDS) - {"custom_attributes"}
    if unknown:
        raise ValueError(f"Unknown customer fields: {sorted(unknown)}")
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()
        if not changes["name"]:
            raise ValidationError({"name": _("Enter the customer's name.")})
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.merged_into_id:  # merged while the form was open: the edit would be lost on a hidden record
        raise ValidationError(_("This customer was merged into another record; edit that one instead."))
    changed, attributes_changed = [], False
    for name, value in changes.items():
        if getattr(customer, name) != value:
            old = getattr(customer, name)
            setattr(customer, name, value)
            if name in TRACKED_FIELDS:
                changed.append((name, old, value))
            else:
                attributes_changed = True
    if changed or attributes_changed:
        customer.save()
    if attributes_changed:
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Custom attributes changed"),
            actor=actor,
            subject=customer,
            data={"field": "custom_attributes"},
        )
    if tags is not None:
        new_tags = tags_from_names(tags) if tags and isinstance(tags[0], str) else list(tags)
        old_names = sorted(t.name for t in customer.tags.all())
        customer.tags.set(new_tags)
        new_names = sorted(t.name for t in new_tags)
        if old_names != new_names:
            changed.append(("tags", ", ".join(old_names), ", ".join(new_names)))
    for name, old, new in changed:
        label = Customer._meta.get_field(name).verbose_name
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("%(field)s changed from “%(old)s” to “%(new)s”")
            % {"field": label, "old": _display(customer, name, old), "new": _display(customer, name, new)},
            actor=actor,
            subject=customer,
            data={"field": name},
        )
    return customer


def _display(customer, name, value):
    if value in (None, ""):
        return "—"
    field_ = Customer._meta.get_field(name) if name != "tags" else None
    if field_ is not None and field_.choices:
        return dict(field_.flatchoices).get(value, value)
    return str(value)


@transaction.atomic
def contact_point_add(*, customer: Customer, actor, kind: str, value: str, label: str = "") -> ContactPoint:
    if actor is not None and not permissions.can_edit(actor, customer):
        raise PermissionDenied(_("You may not edit this customer."))
    contacts = ContactInput(phones=[value] if kind == ContactPoint.Kind.PHONE else [])
    if kind == ContactPoint.Kind.EMAIL:
        contacts.emails = [value]
    if kind == ContactPoint.Kind.OTHER:
        if not value.strip():
            raise ValidationError({"value": _("Enter a value.")})
        row = ContactPoint(kind=kind, value=value.strip(), normalised=value.strip().lower())
    else:
        try:
            (row,) = _contact_rows(contacts)
        except ValidationError as exc:
            raise ValidationError(
                {"value": [m for msgs in exc.message_dict.values() for m in msgs]}
            ) from None
    if customer.contact_points.filter(
        kind=row.kind, normalised=row.normalised, extension=row.extension
    ).exists():
        raise ValidationError({"value": _("This customer already has that contact.")})
    row.customer = customer
    row.label = label
    row.is_primary = not customer.contact_points.filter(kind=row.kind).exists()
    row.save()
    record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("%(kind)s added") % {"kind": row.get_kind_display()},
        actor=actor,
        subject=customer,
    )
    return row


@transaction.atomic
def contact_point_remove(*, contact_point: ContactPoint, actor) -> None:
    customer = contact_point.customer
    if actor is not None and not permissions.can_edit(actor, customer):
        raise PermissionDenied(_("You may not edit this customer."))
    kind_label = contact_point.get_kind_display()
    contact_point.delete()
    record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=_("%(kind)s removed") % {"kind": kind_label},
        actor=actor,
        subject=customer,
    )


def note_add(*, customer: Customer, actor, text: str) -> Interaction:
    if not actor.has_perm("customers.add_interaction"):
        raise PermissionDenied(_("You may not add notes."))
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": _("Write something before saving the note.")})
    if len(text) > 5000:
        raise ValidationError({"text": _("A note can be at most 5000 characters.")})
    first_line = text.splitlines()[0]
    return record_interaction(
        customer=customer,
        kind=Interaction.Kind.NOTE,
        summary=first_line,
        actor=actor,
        data={"text": text},
    )


@transaction.atomic
def consent_record(
    *,
    customer: Customer,
    actor,
    purpose: str,
    granted: bool,
    channel: str = Consent.Channel.ANY,
    source: str = "",
    occurred_at=None,
) -> Consent:
    """Record a grant or withdrawal; `occurred_at` when it was given earlier than now (a signed form)."""
    if occurred_at is not None and occurred_at > timezone.now():
        raise ValidationError({"occurred_at": _("Consent cannot be recorded for a time still to come.")})
    if purpose not in Consent.Purpose.values:
        raise ValidationError({"purpose": _("Choose a purpose from the list.")})
    if channel not in Consent.Channel.values:
        raise ValidationError({"channel": _("Choose a channel from the list.")})
    consent = Consent.objects.create(
        customer=customer,
        purpose=purpose,
        channel=channel,
        granted=granted,
        source=source,
        occurred_at=occurred_at or timezone.now(),
        recorded_by=actor if actor is not None and actor.is_authenticated else None,
    )
    summary = _("Consent granted: %(purpose)s") if granted else _("Consent withdrawn: %(purpose)s")
    record_interaction(
        customer=customer,
        kind=Interaction.Kind.CONSENT,
        summary=summary % {"purpose": consent.get_purpose_display()},
        actor=actor,
        occurred_at=consent.occurred_at,
        subject=consent,
        data={"purpose": purpose, "channel": channel, "granted": granted, "source": source},
    )
    return consent


def customer_share(*, customer: Customer, user, actor, revoke: bool = False) -> None:
    if not permissions.can_share(actor):
        raise PermissionDenied(_("You may not share customers."))
    permissions.check_can_view(actor, customer)
    if revoke:
        remove_perm("customers.view_customer", user, customer)
    else:
        assign_perm("customers.view_customer", user, customer)
    record_interaction(
        customer=customer,
        kind=Interaction.Kind.SYSTEM,
        summary=(_("No longer shared with %(user)s") if revoke else _("Shared with %(user)s"))
        % {"user": user},
        actor=actor,
        subject=customer,
    )


def contact_details_reveal(*, customer: Customer, user, ip_address: str | None = None) -> list[dict]:
    """Return the customer's unmasked contacts and leave a trace of who saw them."""
    if not permissions.can_view_contact_details(user):
        raise PermissionDenied(_("You may not see contact details."))
    permissions.check_can_view(user, customer)
    points = list(customer.contact_points.filter(kind__in=[ContactPoint.Kind.PHONE, ContactPoint.Kind.EMAIL]))
    contact_details_log(
        user=user, count=len(points), object_id=customer.pk, field="contact_points", ip_address=ip_address
    )
    return [
        {
            "id": p.pk,
            "kind": p.kind,
            "value": phone_display(p.normalised, p.extension)
            if p.kind == ContactPoint.Kind.PHONE
            else p.value,
        }
        for p in points
    ]


def contact_details_log(
    *, user, count: int, object_id="", field: str, ip_address: str | None = None, filters: dict | None = None
) -> AccessLog:
    """Record that `user` was shown unmasked contact details of `count` customers."""
    return AccessLog.objects.create(
        user=user,
        action=AccessLog.Action.REVEAL,
        content_type=ContentType.objects.get_for_model(Customer),
        object_id=str(object_id or ""),
        field=field,
        count=count,
        filters=filters or {},
        ip_address=ip_address,
    )


def phone_lookup(*, user, number: str) -> list[Customer]:
    """Customers with exactly this number, in any format. Agents get to open what they find."""
    e164, _extension = phone_normalise(number)
    matches = list(
        Customer.objects.filter(
            pk__in=ContactPoint.objects.filter(kind=ContactPoint.Kind.PHONE, normalised=e164).values(
                "customer_id"
            )
        ).order_by("-created_at")[:20]
    )
    if roles.user_role(user) == roles.AGENT:
        CustomerLookup.objects.bulk_create(
            [CustomerLookup(user=user, customer=customer, number=e164) for customer in matches]
        )
        return matches
    if roles.is_admin(user) or not matches:
        return matches
    visible = set(
        permissions.customers_visible_to(user)
        .filter(pk__in=[c.pk for c in matches])
        .values_list("pk", flat=True)
    )
    return [c for c in matches if c.pk in visible]


# --- segments ---------------------------------------------------------------------------------------


def segment_save(
    *,
    actor,
    name: str,
    kind: str = Segment.Kind.DYNAMIC,
    rules: dict | None = None,
    description: str = "",
    team=None,
    shared: bool = False,
    segment: Segment | None = None,
) -> Segment:
    """Create a segment, or change `segment`, after checking the actor may and the rules hold up."""
    if segment is None:
        if not actor.has_perm("customers.add_segment"):
            raise PermissionDenied(_("You may not create segments."))
        segment = Segment(owner=actor, kind=kind)
    elif not selectors.segment_editable_by(actor, segment):
        raise PermissionDenied(_("You may not change this segment."))
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the segment a name.")})
    if kind not in Segment.Kind.values:
        raise ValidationError({"kind": _("Choose a dynamic segment or a static list.")})
    if segment.pk and kind != segment.kind:
        raise ValidationError({"kind": _("A segment cannot change between static list and rules.")})
    validated = segments.validate_rules(rules) if kind == Segment.Kind.DYNAMIC else dict(segments.EMPTY_RULES)
    if kind == Segment.Kind.DYNAMIC and not validated["rules"]:
        raise ValidationError({"rules": _("Add at least one condition.")})
    segment.name = name[:200]
    segment.description = (description or "").strip()[:500]
    segment.kind = kind
    segment.rules = validated
    segment.team = team
    segment.shared = bool(shared)
    segment.save()
    return segment


def segment_delete(*, actor, segment: Segment) -> None:
    if not actor.has_perm("customers.delete_segment") or not selectors.segment_editable_by(actor, segment):
        raise PermissionDenied(_("You may not delete this segment."))
    segment.delete()


def _static_list_for(actor, segment: Segment):
    if not segment.is_static:
        raise ValidationError(_("Only a static list has members to add or remove."))
    if not selectors.segment_editable_by(actor, segment):
        raise PermissionDenied(_("You may not change this list."))


def segment_members_add(*, actor, segment: Segment, customer_ids) -> int:
    """Put the given customers that `actor` may see on a static list; returns how many were new."""
    _static_list_for(actor, segment)
    ids = customers_visible(actor).filter(pk__in=list(customer_ids)[:10_000]).values_list("pk", flat=True)
    rows = [SegmentMember(segment=segment, customer_id=pk, added_by=actor) for pk in ids]
    with transaction.atomic():
        before = segment.members.count()
        SegmentMember.objects.bulk_create(rows, ignore_conflicts=True, batch_size=1000)
        Segment.objects.filter(pk=segment.pk).update(updated_at=timezone.now())
        return segment.members.count() - before


def segment_members_remove(*, actor, segment: Segment, customer_ids) -> int:
    _static_list_for(actor, segment)
    with transaction.atomic():
        removed, _details = segment.members.filter(customer_id__in=list(customer_ids)[:10_000]).delete()
        Segment.objects.filter(pk=segment.pk).update(updated_at=timezone.now())
    return removed


FREEZE_INSERT = "INSERT INTO customers_segmentmember (segment_id, customer_id, added_by_id, added_at)"


def segment_freeze(*, actor, segment: Segment, name: str) -> Segment:
    """A static list holding the customers of `segment` that `actor` may see, as of now."""
    return segment_create_static_from(
        actor=actor, name=name, customers=selectors.segment_customers(segment=segment), team=segment.team
    )


def segment_create_static_from(*, actor, name: str, customers, team=None) -> Segment:
    """A static list of the customers in `customers` (a queryset) that `actor` may see. The rows are
    copied by one INSERT ... SELECT, not fetched into Python."""
    if not actor.has_perm("customers.add_segment"):
        raise PermissionDenied(_("You may not create segments."))
    with transaction.atomic():
        static = segment_save(actor=actor, name=name, kind=Segment.Kind.STATIC, team=team)
        members = (
            customers_visible(actor, customers)
            .order_by()
            .annotate(
                member_segment=Value(static.pk, output_field=IntegerField()),
                member_added_by=Value(actor.pk, output_field=IntegerField()),
                member_added_at=Value(timezone.now(), output_field=DateTimeField()),
            )
            .values_list("member_segment", "pk", "member_added_by", "member_added_at")
            .distinct()
        )
        sql, params = members.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(" ".join([FREEZE_INSERT, sql]), params)
    return static
