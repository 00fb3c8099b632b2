"""Data-subject requests: export everything held about a customer, erase it on request, and list
customers kept longer than the retention period.

What "everything" is comes from customers.registry: each app exports and erases its own rows.
Erasure anonymises in place: names, contact values, identities and free texts go; rows, kinds,
dates, amounts and durations stay so that counts and reports do not change. The change log
(django-auditlog) keeps old values, so its entries for the customer's profile, contacts and
identities are removed as well, and the merge audit records lose the names they copied.
"""

import csv
import io
import json
import zipfile
from datetime import timedelta

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from crm.models import AccessLog

from . import locks, registry
from .models import ContactPoint, Customer, CustomerMerge, DataSubjectRequest, Interaction, SocialIdentity
from .permissions import check_can_view
from .services import record_interaction

ERASE_ACTION = AccessLog.Action.ERASE
CSV_UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")


def _check(actor, customer) -> None:
    if not actor.has_perm("customers.handle_data_request"):
        raise PermissionDenied(_("Only administrators may export or erase a customer's data."))
    check_can_view(actor, customer)


def customer_data(customer: Customer) -> dict[str, list[dict]]:
    sections: dict[str, list[dict]] = {}
    for provider in registry.providers():
        sections.update(provider.export(customer=customer))
    return sections


def _csv(rows: list[dict]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        values = []
        for column in columns:
            value = row.get(column)
            if isinstance(value, dict | list):
                value = json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
            value = "" if value is None else str(value)
            if value.startswith(CSV_UNSAFE_START):  # keep spreadsheets from running it as a formula
                value = "'" + value
            values.append(value)
        writer.writerow(values)
    return out.getvalue()


def customer_data_export(*, actor, customer: Customer, ip_address: str | None = None) -> tuple[str, bytes]:
    """A ZIP of everything held about the customer: customer.json plus one CSV per section.
    Logged in the access log and as a data-subject request."""
    _check(actor, customer)
    sections = customer_data(customer)
    exported_at = timezone.now()
    document = {
        "customer_id": customer.pk,
        "exported_at": exported_at,
        "exported_by": actor.get_username(),
        "sections": sections,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "customer.json", json.dumps(document, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
        )
        for name, rows in sections.items():
            # utf-8-sig: spreadsheet programs then read Chinese text correctly
            archive.writestr(f"{name}.csv", _csv(rows).encode("utf-8-sig"))
    counts = {name: len(rows) for name, rows in sections.items()}
    with transaction.atomic():
        AccessLog.objects.create(
            user=actor,
            action=AccessLog.Action.EXPORT,
            content_type=ContentType.objects.get_for_model(Customer),
            object_id=str(customer.pk),
            field="data_subject_export",
            count=1,
            filters={"sections": counts},
            ip_address=ip_address,
        )
        DataSubjectRequest.objects.create(
            customer=customer, kind=DataSubjectRequest.Kind.EXPORT, actor=actor, counts=counts
        )
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Personal data exported on request"),
            actor=actor,
        )
    filename = f"customer-{customer.pk}-{exported_at:%Y%m%d-%H%M%S}.zip"
    return filename, buffer.getvalue()


def is_erased(customer: Customer) -> bool:
    return DataSubjectRequest.objects.filter(customer=customer, kind=DataSubjectRequest.Kind.ERASE).exists()


def customer_erase(
    *, actor, customer: Customer, reason: str, ip_address: str | None = None
) -> DataSubjectRequest:
    """Anonymise the customer in place, with the reason recorded. Records merged into this one (empty
    shells that still carry a name) are anonymised too."""
    _check(actor, customer)
    reason = (reason or "").replace("\x00", "").strip()
    if not reason:
        raise ValidationError(
            {"reason": _("Say why the data is erased (e.g. the customer's request and its date).")}
        )
    if len(reason) > 2000:
        raise ValidationError({"reason": _("Keep the reason under 2000 characters.")})
    with transaction.atomic():
        shells = list(Customer.objects.filter(merged_into=customer).values_list("pk", flat=True))
        locked = locks.customers_lock([customer.pk, *shells])
        customer = locked[customer.pk]
        if customer.merged_into_id:
            raise ValidationError(_("This record was merged into another one: erase that one instead."))
        people = [locked[pk] for pk in sorted(locked)]
        contact_ids = [
            str(pk) for pk in ContactPoint.objects.filter(customer__in=people).values_list("pk", flat=True)
        ]
        identity_ids = [
            str(pk) for pk in SocialIdentity.objects.filter(customer__in=people).values_list("pk", flat=True)
        ]
        counts: dict[str, int] = {}
        for person in people:
            for provider in registry.providers():
                for key, value in provider.erase(customer=person).items():
                    counts[key] = counts.get(key, 0) + value
        for model, ids in (
            (Customer, [str(p.pk) for p in people]),
            (ContactPoint, contact_ids),
            (SocialIdentity, identity_ids),
        ):
            LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(model), object_pk__in=ids
            ).delete()
        _merges_forget(people)
        request = DataSubjectRequest.objects.create(
            customer=customer, kind=DataSubjectRequest.Kind.ERASE, reason=reason, actor=actor, counts=counts
        )
        AccessLog.objects.create(
            user=actor,
            action=ERASE_ACTION,
            content_type=ContentType.objects.get_for_model(Customer),
            object_id=str(customer.pk),
            field="data_subject_erasure",
            count=len(people),
            filters={"request_id": request.pk},
            ip_address=ip_address,
        )
        record_interaction(
            customer=customer,
            kind=Interaction.Kind.SYSTEM,
            summary=_("Personal data erased on request"),
            actor=actor,
            data={"request_id": request.pk},
        )
    return request


def _merges_forget(people) -> None:
    """Merge audit records copied names and contact values for undo: they go, and with them undo."""
    for merge in CustomerMerge.objects.filter(winner__in=people) | CustomerMerge.objects.filter(
        loser__in=people
    ):
        snapshot = merge.snapshot
        for part in ("winner_fields", "merged_fields"):
            if "name" in snapshot.get(part, {}):
                snapshot[part]["name"] = registry.ERASED
        contacts = snapshot.get("moved", {}).get("contacts", {})
        contacts["duplicates_removed"] = []
        snapshot["erased"] = True
        CustomerMerge.objects.filter(pk=merge.pk).update(snapshot=snapshot)


def retention_cutoff(months: int | None = None):
    months = settings.CUSTOMERS_RETENTION_MONTHS if months is None else months
    return timezone.now() - timedelta(days=round(months * 30.44))


def retention_due(*, months: int | None = None):
    """Customers with no timeline entry since the cutoff (and created before it), oldest first,
    not merged away and not already erased: the ones to review for deletion or renewed consent."""
    cutoff = retention_cutoff(months)
    erased = DataSubjectRequest.objects.filter(customer=OuterRef("pk"), kind=DataSubjectRequest.Kind.ERASE)
    # last_interaction_at is the newest timeline entry, kept by the timeline writers.
    return (
        Customer.objects.filter(merged_into__isnull=True, created_at__lt=cutoff)
        .filter(Q(last_interaction_at__lt=cutoff) | Q(last_interaction_at__isnull=True))
        .exclude(Exists(erased))
        .select_related("owner")
        .order_by("created_at", "id")
    )
