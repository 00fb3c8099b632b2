"""Merging two customer records into one, and undoing a merge from its audit record.

The record that is kept (the winner) takes, field by field, the value chosen on the merge screen and
every row that pointed at the other record (the loser): timeline, contacts, identities, tags,
consent and, through customers.registry, what other apps hold (deals, tickets, calls...). The loser
is not deleted: it stays, empty, with ``merged_into`` set, hidden from lists, so that old links lead
to the kept record and the merge can be undone. The CustomerMerge row is the audit record and holds
the ids of every row moved and the winner's values before, which is what undo needs.
"""

from datetime import timedelta
from functools import partial

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import locks, registry
from .models import Customer, CustomerMerge, DuplicateCandidate, Interaction
from .permissions import customers_visible_to
from .services import last_interaction_recompute, record_interaction

WINNER, LOSER = "winner", "loser"
# Fields chosen one by one on the merge screen; custom attributes are combined, the chosen side
# winning on keys both have.
MERGE_FIELDS = (
    "name",
    "kind",
    "organisation",
    "owner",
    "team",
    "lifecycle_stage",
    "source",
    "custom_attributes",
)


def _value(customer: Customer, field: str):
    return getattr(customer, Customer._meta.get_field(field).attname)


def _check_actor(actor, customer_ids) -> None:
    if actor is None:
        return
    if not actor.has_perm("customers.merge_customer"):
        raise PermissionDenied(_("You may not merge customers."))
    visible = customers_visible_to(actor, include_merged=True)
    if visible.filter(pk__in=customer_ids).count() != len(set(customer_ids)):
        raise PermissionDenied(_("You do not have access to both customers."))


def _clean_choices(choices: dict[str, str] | None) -> dict[str, str]:
    choices = dict(choices or {})
    unknown = set(choices) - set(MERGE_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(fields)s") % {"fields": ", ".join(sorted(unknown))})
    if any(side not in (WINNER, LOSER) for side in choices.values()):
        raise ValidationError(_("Each field must be taken from one of the two records."))
    return choices


def customer_merge(
    *, actor, winner: Customer, loser: Customer, choices: dict[str, str] | None = None
) -> CustomerMerge:
    """Merge `loser` into `winner`; `choices` maps a field of MERGE_FIELDS to "winner" or "loser"
    (the winner's value when a field is not named). Raises ValidationError when either record has
    already been merged away, PermissionDenied when the actor may not merge them."""
    choices = _clean_choices(choices)
    if winner.pk == loser.pk:
        raise ValidationError(_("A customer cannot be merged with itself."))
    with transaction.atomic():
        _check_actor(actor, [winner.pk, loser.pk])
        locked = locks.customers_lock([winner.pk, loser.pk])
        if len(locked) != 2:
            raise ValidationError(_("One of the customers no longer exists."))
        winner, loser = locked[winner.pk], locked[loser.pk]
        for customer in (winner, loser):
            if customer.merged_into_id:
                raise ValidationError(
                    _("“%(name)s” has already been merged into another record.") % {"name": customer.name}
                )
        before = {field: _value(winner, field) for field in MERGE_FIELDS}
        for field in MERGE_FIELDS:
            if field == "custom_attributes":
                first, second = (loser, winner) if choices.get(field) != LOSER else (winner, loser)
                winner.custom_attributes = {**first.custom_attributes, **second.custom_attributes}
            elif choices.get(field) == LOSER:
                setattr(winner, Customer._meta.get_field(field).attname, _value(loser, field))
        if winner.organisation_id in (winner.pk, loser.pk):
            raise ValidationError(_("A customer cannot belong to itself as an organisation."))
        after = {field: _value(winner, field) for field in MERGE_FIELDS}
        if after != before:
            winner.save()
        moved = {provider.key: provider.move(loser=loser, winner=winner) for provider in registry.providers()}
        # The winner now holds both timelines: its newest entry is the newer of the two.
        last_interaction_recompute(customer_ids=[winner.pk, loser.pk])
        loser.merged_into = winner
        loser.save(update_fields=["merged_into", "updated_at"])
        # After the commit, in its own statements: the nightly scan locks candidate rows in its own
        # order and waits for the customers locked here, so touching them here could deadlock with it.
        transaction.on_commit(partial(_candidates_settle, winner.pk, loser.pk, _user(actor)))
        merge = CustomerMerge.objects.create(
            winner=winner,
            loser=loser,
            actor=_user(actor),
            choices=choices,
            snapshot={"winner_fields": before, "merged_fields": after, "moved": moved},
            counts=_counts(moved),
        )
        record_interaction(
            customer=winner,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Merged with “%(name)s” (#%(id)s)") % {"name": loser.name, "id": loser.pk},
            actor=actor,
            subject=merge,
            data={"merge_id": merge.pk, "loser_id": loser.pk},
        )
    return merge


def _counts(moved: dict) -> dict:
    counts = {}
    for data in moved.values():
        for kind, value in data.items():
            if isinstance(value, list) and value and kind not in ("loser_tags", "demoted"):
                counts[kind] = counts.get(kind, 0) + len(value)
    return counts


def _user(actor):
    return actor if actor is not None and actor.is_authenticated else None


def _candidates_settle(winner_id: int, loser_id: int, actor) -> None:
    """The merged pair is resolved; other open pairs of the loser are dropped (the next scan finds
    them again against the kept record)."""
    low, high = sorted((winner_id, loser_id))
    DuplicateCandidate.objects.filter(customer_a_id=low, customer_b_id=high).update(
        status=DuplicateCandidate.Status.MERGED, resolved_by=actor, resolved_at=timezone.now()
    )
    open_pairs = DuplicateCandidate.objects.filter(status=DuplicateCandidate.Status.OPEN)
    open_pairs.filter(customer_a_id=loser_id).delete()
    open_pairs.filter(customer_b_id=loser_id).delete()


def _pair_remember_distinct(winner_id: int, loser_id: int, actor, when) -> None:
    """An undone merge was a mistake: remember the pair as two people, found by the scan or not."""
    low, high = sorted((winner_id, loser_id))
    resolved = {"status": DuplicateCandidate.Status.NOT_DUPLICATE, "resolved_by": actor, "resolved_at": when}
    DuplicateCandidate.objects.update_or_create(
        customer_a_id=low,
        customer_b_id=high,
        defaults=resolved,
        create_defaults={"reason": DuplicateCandidate.Reason.MANUAL, "score": 0, **resolved},
    )


# Rows can still reach a merged-away record just after its merge: a write that was waiting for the
# merge's lock, a webhook or a page holding the old id. They are moved on by the sweep below.
SWEEP_WINDOW = timedelta(days=2)


def customer_merge_sweep(*, since=None) -> int:
    """Move rows that reached a merged-away record after its merge on to the kept record, adding them
    to the merge's undo data; merges of the last SWEEP_WINDOW. Returns how many rows moved."""
    since = since or timezone.now() - SWEEP_WINDOW
    total = 0
    merge_ids = CustomerMerge.objects.filter(undone_at__isnull=True, merged_at__gte=since).values_list(
        "pk", flat=True
    )
    for merge_id in list(merge_ids):
        with transaction.atomic():
            merge = CustomerMerge.objects.get(pk=merge_id)
            locked = locks.customers_lock([merge.winner_id, merge.loser_id])
            merge = CustomerMerge.objects.select_for_update(of=("self",)).get(pk=merge_id)
            winner, loser = locked[merge.winner_id], locked[merge.loser_id]
            if merge.undone_at or loser.merged_into_id != winner.pk:
                continue
            late = {
                provider.key: provider.move(loser=loser, winner=winner) for provider in registry.providers()
            }
            counts = _counts(late)
            if not counts:
                continue
            moved = merge.snapshot.setdefault("moved", {})
            for key, data in late.items():
                previous = moved.setdefault(key, {})
                for kind, value in data.items():
                    if isinstance(value, list):
                        previous[kind] = [*previous.get(kind, []), *value]
            for kind, count in counts.items():
                merge.counts[kind] = merge.counts.get(kind, 0) + count
            merge.save(update_fields=["snapshot", "counts"])
            total += sum(counts.values())
    return total


def undo_blocker(merge: CustomerMerge) -> str:
    """Why this merge cannot be undone now, or "" when it can."""
    if merge.undone_at:
        return _("This merge has already been undone.")
    if merge.snapshot.get("erased"):
        return _("The customer's data was erased since: this merge can no longer be undone.")
    if merge.winner.merged_into_id:
        return _("The kept record has since been merged into another one: undo that merge first.")
    later = CustomerMerge.objects.filter(winner_id=merge.winner_id, undone_at__isnull=True, pk__gt=merge.pk)
    if later.exists():
        return _("A later merge into the same record must be undone first.")
    return ""


def customer_merge_undo(*, actor, merge: CustomerMerge) -> CustomerMerge:
    """Split a merge: the rows moved go back to the merged-away record, and the kept record's fields
    the merge changed go back unless someone has changed them since. Merges into one record are
    undone newest first."""
    with transaction.atomic():
        _check_actor(actor, [merge.winner_id, merge.loser_id])
        locked = locks.customers_lock([merge.winner_id, merge.loser_id])
        merge = CustomerMerge.objects.select_for_update(of=("self",)).get(pk=merge.pk)
        winner, loser = locked[merge.winner_id], locked[merge.loser_id]
        merge.winner = winner
        blocker = undo_blocker(merge)
        if blocker:
            raise ValidationError(blocker)
        moved = merge.snapshot.get("moved", {})
        for provider in reversed(registry.providers()):
            provider.undo(loser=loser, winner=winner, data=moved.get(provider.key, {}))
        last_interaction_recompute(customer_ids=[winner.pk, loser.pk])
        before, after = merge.snapshot.get("winner_fields", {}), merge.snapshot.get("merged_fields", {})
        restored = False
        for field, old in before.items():
            if field in after and _value(winner, field) == after[field] and old != after[field]:
                setattr(winner, Customer._meta.get_field(field).attname, old)
                restored = True
        if restored:
            winner.save()
        loser.merged_into = None
        loser.save(update_fields=["merged_into", "updated_at"])
        merge.undone_at = timezone.now()
        merge.undone_by = _user(actor)
        merge.save(update_fields=["undone_at", "undone_by"])
        transaction.on_commit(
            partial(_pair_remember_distinct, winner.pk, loser.pk, merge.undone_by, merge.undone_at)
        )
        for customer, other in ((winner, loser), (loser, winner)):
            record_interaction(
                customer=customer,
                kind=Interaction.Kind.SYSTEM,
                summary=_("Merge with “%(name)s” (#%(id)s) undone") % {"name": other.name, "id": other.pk},
                actor=actor,
                subject=merge,
                data={"merge_id": merge.pk},
            )
    return merge


def last_merges(customer: Customer, limit: int = 5):
    return (
        CustomerMerge.objects.filter(winner=customer)
        .select_related("loser", "actor", "undone_by")
        .order_by("-pk")[:limit]
    )


FIELD_LABELS = {field: Customer._meta.get_field(field).verbose_name for field in MERGE_FIELDS}


def _display(customer: Customer, field: str) -> str:
    if field == "custom_attributes":
        return ", ".join(f"{key}: {value}" for key, value in sorted(customer.custom_attributes.items()))
    value = getattr(customer, field)
    if value in (None, ""):
        return ""
    model_field = Customer._meta.get_field(field)
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    return str(value)


def merge_preview(first: Customer, second: Customer) -> list[dict]:
    """The merge screen's rows: each field's value on both records and whether they differ."""
    return [
        {
            "field": field,
            "label": FIELD_LABELS[field],
            "first": _display(first, field),
            "second": _display(second, field),
            "differs": _value(first, field) != _value(second, field),
        }
        for field in MERGE_FIELDS
    ]


def holdings(customers) -> dict[int, dict[str, int]]:
    """How many timeline entries, contacts, deals, tickets and calls each customer has (5 queries)."""
    from django.db.models import Count

    from callcenter.models import Call
    from sales.models import Deal
    from tickets.models import Ticket

    from .models import ContactPoint

    ids = [c.pk for c in customers]
    result = {pk: {} for pk in ids}
    for key, model in (
        ("interactions", Interaction),
        ("contact_points", ContactPoint),
        ("deals", Deal),
        ("tickets", Ticket),
        ("calls", Call),
    ):
        counts = (
            model.objects.filter(customer_id__in=ids).order_by().values("customer_id").annotate(n=Count("pk"))
        )
        for row in counts:
            result[row["customer_id"]][key] = row["n"]
    return result
