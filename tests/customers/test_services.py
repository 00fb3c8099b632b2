import pytest
from django.core.exceptions import ValidationError

from customers import services
from customers.models import ContactPoint, Customer, Interaction

pytestmark = pytest.mark.django_db


def test_creating_a_customer_normalises_contacts_and_starts_the_timeline(rep):
    customer = services.customer_create(
        actor=rep,
        name="  陳美玲 ",
        tags=["VIP", "回購客"],
        contacts=services.ContactInput(
            phones=["(02)2345-6789#12", "0912-345-678"], emails=["Mei@Example.com"]
        ),
    )

    assert customer.name == "陳美玲"
    assert customer.owner == rep and customer.team == rep.team
    points = {(p.kind, p.normalised, p.extension, p.is_primary) for p in customer.contact_points.all()}
    assert points == {
        ("phone", "+886223456789", "12", True),
        ("phone", "+886912345678", "", False),
        ("email", "mei@example.com", "", True),
    }
    assert sorted(customer.tags.values_list("name", flat=True)) == ["VIP", "回購客"]
    assert customer.interactions.get().summary == "Profile created"


def test_a_bad_phone_rejects_the_whole_customer_and_writes_nothing(rep):
    with pytest.raises(ValidationError) as excinfo:
        services.customer_create(
            actor=rep, name="Bad", contacts=services.ContactInput(phones=["0912-345-678", "12345"])
        )
    assert "12345" in excinfo.value.message_dict["phones"][0]
    assert not Customer.objects.exists()
    assert not ContactPoint.objects.exists()


def test_profile_changes_are_written_to_the_timeline_with_who_changed_them(rep, manager):
    customer = services.customer_create(actor=rep, name="林志明")
    services.customer_update(customer=customer, actor=manager, lifecycle_stage="customer", tags=["VIP"])

    summaries = list(customer.interactions.filter(kind="system").values_list("summary", "actor__username"))
    assert ("lifecycle stage changed from “Lead” to “Customer”", "manager") in summaries
    assert ("tags changed from “—” to “VIP”", "manager") in summaries


def test_notes_land_on_the_timeline_with_their_author(rep, customer):
    entry = services.note_add(customer=customer, actor=rep, text="Asked for a quote\nCall back Friday")
    assert (entry.kind, entry.summary, entry.actor, entry.data["text"]) == (
        "note",
        "Asked for a quote",
        rep,
        "Asked for a quote\nCall back Friday",
    )


@pytest.mark.parametrize("text", ["", "   ", "x" * 5001])
def test_empty_or_oversized_notes_are_refused(rep, customer, text):
    with pytest.raises(ValidationError):
        services.note_add(customer=customer, actor=rep, text=text)
    assert not Interaction.objects.filter(kind="note").exists()


def test_adding_the_same_number_twice_in_another_format_is_refused(rep, customer):
    with pytest.raises(ValidationError) as excinfo:
        services.contact_point_add(customer=customer, actor=rep, kind="phone", value="+886 912 345 678")
    assert "already has" in excinfo.value.message_dict["value"][0]


def test_consent_history_keeps_every_change_and_the_newest_wins(rep, customer):
    from customers.selectors import consent_current

    services.consent_record(customer=customer, actor=rep, purpose="marketing", granted=True, source="form")
    services.consent_record(customer=customer, actor=rep, purpose="marketing", granted=False, source="phone")

    (current,) = consent_current(customer)
    assert (current.purpose, current.granted, current.source) == ("marketing", False, "phone")
    assert customer.consents.count() == 2
    assert customer.interactions.filter(kind="consent").count() == 2


def test_record_interaction_links_the_source_object(rep, customer):
    entry = services.record_interaction(
        customer=customer, kind="call", channel="phone", summary="Inbound call", actor=rep, subject=customer
    )
    assert entry.subject == customer
