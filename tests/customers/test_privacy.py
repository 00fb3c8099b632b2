"""Data-subject requests: a customer's data exported in full, erased on request, and retention."""

import csv
import io
import json
import zipfile
from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from callcenter.models import Call
from crm.models import AccessLog
from customers import privacy
from customers.merging import customer_merge, customer_merge_undo
from customers.models import Consent, ContactPoint, Customer, DataSubjectRequest, Interaction, SocialIdentity
from customers.services import consent_record, note_add
from sales.models import Deal
from tests.factories import CustomerFactory, InteractionFactory
from tests.sales.factories import DealFactory
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket


@pytest.fixture
def rich_customer(customer, rep):
    SocialIdentity.objects.create(
        customer=customer, provider="line", channel="oa", external_id="Uabc", display_name="小明"
    )
    consent_record(customer=customer, actor=rep, purpose="marketing", granted=True, source="LINE form")
    note_add(customer=customer, actor=rep, text="Prefers calls after 6pm, lives in Da'an")
    DealFactory(customer=customer, title="王小明 renewal", amount=12000)
    TicketFactory(customer=customer, subject="王小明 cannot log in", description="call 0912345678")
    Call.objects.create(
        call_id="c1", direction="in", customer=customer, from_number="+886912345678", talk_seconds=42
    )
    return customer


def _archive(content: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


@pytest.mark.django_db
def test_admin_downloads_everything_held_as_json_and_csv_and_it_is_logged(rich_customer, admin_user, login):
    response = login(admin_user).post(f"/customers/{rich_customer.pk}/privacy/export/")

    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    files = _archive(response.content)
    document = json.loads(files["customer.json"])
    sections = document["sections"]
    assert sections["profile"][0]["name"] == "王小明"
    assert {p["normalised"] for p in sections["contact_points"]} == {"+886912345678", "wang@example.com"}
    assert sections["social_identities"][0]["external_id"] == "Uabc"
    assert sections["consents"][0]["source"] == "LINE form"
    assert any("Prefers calls" in (e["data"] or {}).get("text", "") for e in sections["timeline"])
    assert sections["deals"][0]["title"] == "王小明 renewal"
    assert sections["tickets"][0]["subject"] == "王小明 cannot log in"
    assert sections["calls"][0]["talk_seconds"] == 42
    deals_csv = list(csv.DictReader(io.StringIO(files["deals.csv"].decode("utf-8-sig"))))
    assert deals_csv[0]["title"] == "王小明 renewal"
    log = AccessLog.objects.get(action="export", object_id=str(rich_customer.pk))
    assert log.user == admin_user and log.field == "data_subject_export"
    assert DataSubjectRequest.objects.filter(customer=rich_customer, kind="export").exists()


@pytest.mark.django_db
def test_erasure_removes_what_identifies_the_person_and_keeps_counts_and_amounts(rich_customer, admin_user):
    entries_before = Interaction.objects.filter(customer=rich_customer).count()

    request = privacy.customer_erase(
        actor=admin_user, customer=rich_customer, reason="Written request of 2026-11-20"
    )

    customer = Customer.objects.get(pk=rich_customer.pk)
    assert "王小明" not in customer.name
    assert not ContactPoint.objects.filter(customer=customer).exists()
    identity = SocialIdentity.objects.get(customer=customer)
    assert identity.external_id != "Uabc" and identity.display_name == ""
    timeline = Interaction.objects.filter(customer=customer)
    assert timeline.count() == entries_before + 1  # the erasure itself is on the timeline
    assert not timeline.filter(summary__contains="Prefers").exists()
    assert not timeline.filter(data__has_key="text").exists()
    deal = Deal.objects.get(customer=customer)
    assert deal.amount == 12000 and "王小明" not in deal.title
    ticket = Ticket.objects.get(customer=customer)
    assert "王小明" not in ticket.subject and ticket.description == ""
    call = Call.objects.get(customer=customer)
    assert call.from_number == "" and call.talk_seconds == 42
    assert Consent.objects.filter(customer=customer).count() == 1  # proof of consent is kept
    assert request.reason == "Written request of 2026-11-20" and request.actor == admin_user
    assert AccessLog.objects.filter(action="erase", object_id=str(customer.pk)).exists()
    # the change log would otherwise still hold the old name and number
    assert not LogEntry.objects.filter(changes_text__contains="0912").exists()
    assert not any("王小明" in str(entry.changes) for entry in LogEntry.objects.all())


@pytest.mark.django_db
def test_erasure_needs_a_reason_and_a_confirmation_and_saves_nothing_without(
    rich_customer, admin_user, login
):
    client = login(admin_user)

    unconfirmed = client.post(f"/customers/{rich_customer.pk}/privacy/erase/", {"reason": "asked"})
    no_reason = client.post(
        f"/customers/{rich_customer.pk}/privacy/erase/", {"reason": " ", "confirm": "yes"}
    )

    assert unconfirmed.status_code == no_reason.status_code == 400
    assert "Say why" in no_reason.content.decode()
    assert Customer.objects.get(pk=rich_customer.pk).name == "王小明"
    with pytest.raises(ValidationError):
        privacy.customer_erase(actor=admin_user, customer=rich_customer, reason="")


@pytest.mark.django_db
def test_only_admins_handle_data_requests(rich_customer, users, login):
    for role, user in users.items():
        client = login(user)
        page = client.get(f"/customers/{rich_customer.pk}/privacy/")
        export = client.post(f"/customers/{rich_customer.pk}/privacy/export/")
        erase = client.post(
            f"/customers/{rich_customer.pk}/privacy/erase/", {"reason": "x", "confirm": "yes"}
        )
        expected = 200 if role == "Admin" else 403
        assert (page.status_code, export.status_code) == (expected, expected), role
        if role != "Admin":
            assert erase.status_code == 403
    assert Customer.objects.get(pk=rich_customer.pk).name != "王小明"  # the admin's erasure went through
    with pytest.raises(PermissionDenied):
        privacy.customer_data_export(actor=users["Manager"], customer=rich_customer)


@pytest.mark.django_db
def test_erasing_a_merged_customer_also_erases_the_record_merged_into_it_and_blocks_undo(
    rep, manager, admin_user
):
    kept = CustomerFactory(name="Amy Chen", owner=rep, phones=["0912-111-222"])
    other = CustomerFactory(name="Amy C.", owner=rep, phones=["0912 111 222"])
    merge = customer_merge(actor=manager, winner=kept, loser=other)

    privacy.customer_erase(actor=admin_user, customer=kept, reason="request")

    other.refresh_from_db()
    merge.refresh_from_db()
    assert "Amy" not in other.name
    assert "Amy" not in json.dumps(merge.snapshot, ensure_ascii=False)
    assert "0912" not in json.dumps(merge.snapshot)
    with pytest.raises(ValidationError, match="erased"):
        customer_merge_undo(actor=manager, merge=merge)


@pytest.mark.django_db
def test_retention_lists_customers_without_interaction_for_the_set_months(rep, admin_user, login, settings):
    settings.CUSTOMERS_RETENTION_MONTHS = 12
    long_ago = timezone.now() - timedelta(days=800)
    quiet = CustomerFactory(name="Quiet one", owner=rep, created_at=long_ago)
    InteractionFactory(customer=quiet, occurred_at=long_ago)
    active = CustomerFactory(name="Active one", owner=rep, created_at=long_ago)
    InteractionFactory(customer=active, occurred_at=timezone.now() - timedelta(days=10))
    CustomerFactory(name="New one", owner=rep)

    response = login(admin_user).get("/customers/privacy/retention/")

    assert list(privacy.retention_due()) == [quiet]
    body = response.content.decode()
    assert "Quiet one" in body and "Active one" not in body and "New one" not in body


@pytest.mark.django_db
def test_admin_records_a_consent_change_with_its_source_and_an_earlier_time(customer, admin_user, login):
    client = login(admin_user)
    form = {
        "purpose": "marketing",
        "channel": "email",
        "granted": "0",
        "source": "Signed withdrawal form",
        "occurred_at": "2026-11-01T10:30",
    }

    response = client.post(f"/customers/{customer.pk}/privacy/consent/", form)
    missing_source = client.post(f"/customers/{customer.pk}/privacy/consent/", {**form, "source": ""})
    future = client.post(
        f"/customers/{customer.pk}/privacy/consent/", {**form, "occurred_at": "2099-01-01T00:00"}
    )

    assert response.status_code == 302
    consent = Consent.objects.get(customer=customer)
    assert consent.source == "Signed withdrawal form" and not consent.granted
    assert consent.occurred_at.date().isoformat() == "2026-11-01" and consent.recorded_by == admin_user
    assert missing_source.status_code == future.status_code == 400
    assert "still to come" in future.content.decode()
    page = client.get(f"/customers/{customer.pk}/privacy/").content.decode()
    assert "Signed withdrawal form" in page


@pytest.mark.django_db
def test_privacy_page_shows_holdings_consents_and_requests_in_few_queries(
    rich_customer, admin_user, login, django_assert_max_num_queries
):
    client = login(admin_user)
    for index in range(5):
        consent_record(
            customer=rich_customer,
            actor=admin_user,
            purpose="service",
            granted=bool(index % 2),
            source=f"s{index}",
        )
    privacy.customer_data_export(actor=admin_user, customer=rich_customer)

    with django_assert_max_num_queries(20):
        response = client.get(f"/customers/{rich_customer.pk}/privacy/")

    body = response.content.decode()
    assert body.count("<tr><td") >= 6 and 'data-testid="dsr-row"' in body
