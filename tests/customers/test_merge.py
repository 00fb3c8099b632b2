"""Merging two records of one person, and undoing it."""

import threading

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connections

from callcenter.models import Call
from customers.merging import customer_merge, customer_merge_undo
from customers.models import (
    Consent,
    ContactPoint,
    Customer,
    CustomerMerge,
    DuplicateCandidate,
    Interaction,
    SocialIdentity,
)
from sales.models import Deal, Task
from tests.factories import CustomerFactory, InteractionFactory
from tests.sales.factories import DealFactory
from tests.tickets.factories import TicketFactory
from tickets.models import Ticket


def _full_customer(name, owner, phone, email, tags=(), line_id=None):
    customer = CustomerFactory(name=name, owner=owner, phones=[phone], emails=[email], tags=list(tags))
    InteractionFactory.create_batch(3, customer=customer)
    Consent.objects.create(customer=customer, purpose="marketing", granted=True, source="form")
    if line_id:
        SocialIdentity.objects.create(customer=customer, provider="line", channel="oa", external_id=line_id)
    DealFactory(customer=customer)
    TicketFactory(customer=customer)
    Call.objects.create(call_id=f"call-{name}", direction="in", customer=customer)
    Task.objects.create(title="Call back", customer=customer, due_at=customer.created_at)
    return customer


def _holdings(customer):
    return (
        customer.interactions.exclude(kind="system").exclude(summary="after the merge").count(),
        sorted(customer.contact_points.values_list("normalised", "is_primary")),
        customer.deals.count(),
        customer.tickets.count(),
        customer.calls.count(),
        customer.consents.count(),
        customer.social_identities.count(),
        sorted(customer.tags.values_list("name", flat=True)),
    )


@pytest.fixture
def pair(rep):
    kept = _full_customer("王小明", rep, "0912-345-678", "wang@example.com", tags=["VIP"])
    other = _full_customer("王曉明", rep, "0912 345 678", "ming@example.com", tags=["Taipei"], line_id="U1")
    other.source = "LINE"
    other.custom_attributes = {"shoe_size": 42}
    other.save()
    return kept, other


@pytest.mark.django_db
def test_merge_moves_every_row_to_the_kept_record_and_hides_the_other(pair, manager):
    kept, other = pair

    merge = customer_merge(actor=manager, winner=kept, loser=other, choices={"source": "loser"})

    kept.refresh_from_db()
    other.refresh_from_db()
    assert other.merged_into == kept
    assert kept.source == "LINE" and kept.name == "王小明"
    assert kept.custom_attributes == {"shoe_size": 42}
    assert sorted(t.name for t in kept.tags.all()) == ["Taipei", "VIP"]
    # the same number in two spellings is kept once; the second e-mail moves over, not as primary
    phones = kept.contact_points.filter(kind="phone")
    assert phones.count() == 1
    emails = kept.contact_points.filter(kind="email").order_by("-is_primary")
    assert [(e.normalised, e.is_primary) for e in emails] == [
        ("wang@example.com", True),
        ("ming@example.com", False),
    ]
    assert kept.social_identities.get().external_id == "U1"
    assert Consent.objects.filter(customer=kept).count() == 2
    assert Deal.objects.filter(customer=kept).count() == 2
    assert Ticket.objects.filter(customer=kept).count() == 2
    assert Call.objects.filter(customer=kept).count() == 2
    assert Task.objects.filter(customer=kept).count() == 2
    assert Interaction.objects.filter(customer=kept, kind="note").count() == 6
    assert not ContactPoint.objects.filter(customer=other).exists()
    assert merge.counts["interactions"] >= 3 and merge.counts["deals"] == 1
    assert Interaction.objects.filter(customer=kept, kind="system", data__merge_id=merge.pk).exists()


@pytest.mark.django_db
def test_merged_record_disappears_from_the_list_and_its_page_leads_to_the_kept_one(pair, manager, login):
    kept, other = pair
    customer_merge(actor=manager, winner=kept, loser=other)
    client = login(manager)

    listing = client.get("/customers/")
    response = client.get(f"/customers/{other.pk}/")

    assert other.name not in listing.content.decode()
    assert response.status_code == 302 and response["Location"] == f"/customers/{kept.pk}/"


@pytest.mark.django_db
def test_undo_puts_every_row_back_and_restores_the_fields(pair, manager, django_capture_on_commit_callbacks):
    kept, other = pair
    counts_before = {c.pk: _holdings(c) for c in (kept, other)}
    merge = customer_merge(actor=manager, winner=kept, loser=other, choices={"name": "loser"})
    InteractionFactory(customer=kept, summary="after the merge")

    with django_capture_on_commit_callbacks(execute=True):
        customer_merge_undo(actor=manager, merge=merge)

    kept.refresh_from_db()
    other.refresh_from_db()
    assert kept.name == "王小明" and other.merged_into is None
    assert {c.pk: _holdings(c) for c in (kept, other)} == counts_before
    assert kept.interactions.filter(summary="after the merge").exists()
    merge.refresh_from_db()
    assert merge.undone_at is not None and merge.undone_by == manager
    low, high = sorted((kept.pk, other.pk))
    remembered = DuplicateCandidate.objects.get(customer_a_id=low, customer_b_id=high)
    assert remembered.status == "not_duplicate" and remembered.resolved_by == manager


@pytest.mark.django_db
def test_undo_keeps_a_field_someone_changed_after_the_merge(pair, manager):
    kept, other = pair
    merge = customer_merge(actor=manager, winner=kept, loser=other, choices={"name": "loser"})
    Customer.objects.filter(pk=kept.pk).update(name="王小明 (checked)")

    customer_merge_undo(actor=manager, merge=merge)

    kept.refresh_from_db()
    assert kept.name == "王小明 (checked)"


@pytest.mark.django_db
def test_merges_into_one_record_are_undone_newest_first(rep, manager):
    kept, second, third = (CustomerFactory(owner=rep) for _ in range(3))
    first_merge = customer_merge(actor=manager, winner=kept, loser=second)
    customer_merge(actor=manager, winner=kept, loser=third)

    with pytest.raises(ValidationError, match="later merge"):
        customer_merge_undo(actor=manager, merge=first_merge)


@pytest.mark.django_db
def test_a_record_already_merged_away_cannot_be_merged_again(rep, manager):
    kept, other, third = (CustomerFactory(owner=rep) for _ in range(3))
    customer_merge(actor=manager, winner=kept, loser=other)

    with pytest.raises(ValidationError):
        customer_merge(actor=manager, winner=third, loser=other)
    with pytest.raises(ValidationError):
        customer_merge(actor=manager, winner=other, loser=third)


@pytest.mark.django_db
def test_reps_and_agents_may_not_merge(rep, agent, pair):
    kept, other = pair
    for user in (rep, agent):
        with pytest.raises(PermissionDenied):
            customer_merge(actor=user, winner=kept, loser=other)
    assert not CustomerMerge.objects.exists()


@pytest.mark.django_db
def test_a_manager_may_not_merge_a_customer_outside_their_team(manager, other_team):
    from tests.factories import UserFactory

    stranger = UserFactory(role="Sales rep", team=other_team)
    mine, theirs = CustomerFactory(owner=manager), CustomerFactory(owner=stranger)

    with pytest.raises(PermissionDenied):
        customer_merge(actor=manager, winner=mine, loser=theirs)


@pytest.mark.django_db
def test_unknown_field_choices_are_refused_and_nothing_is_saved(pair, manager):
    kept, other = pair
    with pytest.raises(ValidationError):
        customer_merge(actor=manager, winner=kept, loser=other, choices={"password": "loser"})
    with pytest.raises(ValidationError):
        customer_merge(actor=manager, winner=kept, loser=other, choices={"name": "both"})
    other.refresh_from_db()
    assert other.merged_into is None and not CustomerMerge.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_merges_of_overlapping_pairs_neither_deadlock_nor_lose_rows(seed_data, rep, manager):
    customers = [CustomerFactory(owner=rep) for _ in range(3)]
    for customer in customers:
        InteractionFactory.create_batch(5, customer=customer)
        DealFactory(customer=customer)
    total_interactions = Interaction.objects.count()
    a, b, c = customers
    jobs = {"b into a": (a, b), "c into b": (b, c), "a into c": (c, a)}
    barrier = threading.Barrier(len(jobs))
    outcomes = {}

    def run(name):
        winner, loser = jobs[name]
        try:
            barrier.wait(timeout=10)
            customer_merge(actor=manager, winner=Customer(pk=winner.pk), loser=Customer(pk=loser.pk))
            outcomes[name] = "merged"
        except ValidationError:
            outcomes[name] = "refused"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcomes[name] = repr(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(name,)) for name in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert set(outcomes.values()) <= {"merged", "refused"}, outcomes
    assert list(outcomes.values()).count("merged") >= 1
    survivors = Customer.objects.filter(merged_into__isnull=True, pk__in=[a.pk, b.pk, c.pk])
    assert survivors.count() == 3 - list(outcomes.values()).count("merged")
    # every original entry and deal is on a record still shown
    originals = Interaction.objects.exclude(kind="system")
    assert originals.count() == total_interactions
    assert originals.filter(customer__merged_into__isnull=False).count() == 0
    assert Deal.objects.filter(customer__merged_into__isnull=True).count() == 3


@pytest.mark.django_db(transaction=True)
def test_a_merge_and_an_undo_racing_leave_a_consistent_state(seed_data, rep, manager):
    a, b, c = (CustomerFactory(owner=rep) for _ in range(3))
    for customer in (a, b, c):
        InteractionFactory.create_batch(4, customer=customer)
    merge = customer_merge(actor=manager, winner=a, loser=b)
    barrier = threading.Barrier(2)
    outcomes = {}

    def undo():
        try:
            barrier.wait(timeout=10)
            customer_merge_undo(actor=manager, merge=CustomerMerge.objects.get(pk=merge.pk))
            outcomes["undo"] = "done"
        except ValidationError:
            outcomes["undo"] = "refused"
        finally:
            connections.close_all()

    def merge_more():
        try:
            barrier.wait(timeout=10)
            customer_merge(actor=manager, winner=Customer(pk=a.pk), loser=Customer(pk=c.pk))
            outcomes["merge"] = "done"
        except ValidationError:
            outcomes["merge"] = "refused"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=undo), threading.Thread(target=merge_more)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcomes.get("merge") == "done"
    assert outcomes.get("undo") in ("done", "refused")
    originals = Interaction.objects.exclude(kind="system")
    assert originals.count() == 12
    assert originals.filter(customer__merged_into__isnull=False).count() == 0


@pytest.mark.django_db
def test_merge_screen_shows_both_records_side_by_side_with_masked_contacts(
    pair, manager, login, django_assert_max_num_queries
):
    kept, other = pair
    client = login(manager)

    with django_assert_max_num_queries(25):
        response = client.get(f"/customers/merge/{kept.pk}/{other.pk}/")

    body = response.content.decode()
    assert response.status_code == 200
    assert "王小明" in body and "王曉明" in body
    assert 'data-testid="merge-field-name"' in body and "differs" in body


@pytest.mark.django_db
def test_merging_from_the_screen_keeps_the_chosen_record_and_values(pair, manager, login):
    kept, other = pair
    client = login(manager)
    form = {"keep": "b", "field_name": "a", "field_source": "b"}

    response = client.post(f"/customers/merge/{kept.pk}/{other.pk}/", form)

    assert response.status_code == 302 and response["Location"] == f"/customers/{other.pk}/"
    kept.refresh_from_db()
    other.refresh_from_db()
    assert kept.merged_into == other and other.name == "王小明" and other.source == "LINE"


@pytest.mark.django_db
def test_undo_from_the_duplicates_page_splits_the_records_again(pair, manager, login):
    kept, other = pair
    merge = customer_merge(actor=manager, winner=kept, loser=other)
    client = login(manager)

    page = client.get("/customers/duplicates/")
    response = client.post(f"/customers/merges/{merge.pk}/undo/")

    assert 'data-testid="merge-undo"' in page.content.decode()
    assert response.status_code == 302
    other.refresh_from_db()
    assert other.merged_into is None


@pytest.mark.django_db
def test_bad_merge_input_gets_a_message_and_nothing_is_merged(pair, manager, login):
    kept, other = pair
    client = login(manager)

    response = client.post(f"/customers/merge/{kept.pk}/{other.pk}/", {"keep": "c"})
    same = client.get(f"/customers/merge/{kept.pk}/{kept.pk}/")

    assert response.status_code == 400 and "Choose the record to keep" in response.content.decode()
    assert same.status_code == 404
    assert not CustomerMerge.objects.exists()


@pytest.mark.django_db
def test_merge_pages_are_404_for_customers_the_manager_cannot_see_and_403_for_reps(
    pair, rep, manager, other_team, login
):
    from tests.factories import UserFactory

    kept, _other = pair
    hidden = CustomerFactory(owner=UserFactory(role="Sales rep", team=other_team))

    assert login(manager).get(f"/customers/merge/{kept.pk}/{hidden.pk}/").status_code == 404
    assert login(rep).get(f"/customers/merge/{kept.pk}/{hidden.pk}/").status_code == 403
    assert login(rep).get("/customers/duplicates/").status_code == 403


@pytest.mark.django_db
def test_merge_can_be_started_from_the_customer_page_by_searching_the_other_record(pair, manager, login):
    kept, other = pair
    client = login(manager)

    detail = client.get(f"/customers/{kept.pk}/")
    picked = client.get(f"/customers/{kept.pk}/merge/", {"q": "王曉明"})

    assert 'data-testid="merge-start"' in detail.content.decode()
    assert f"/customers/merge/{kept.pk}/{other.pk}/" in picked.content.decode()


@pytest.mark.django_db
def test_a_page_left_open_on_the_merged_record_cannot_write_to_it(pair, manager, rep, login):
    kept, other = pair
    customer_merge(actor=manager, winner=kept, loser=other)

    response = login(rep).post(f"/customers/{other.pk}/notes/", {"text": "late note"})

    assert response.status_code == 404
    assert not Interaction.objects.filter(summary="late note").exists()


@pytest.mark.django_db
def test_a_row_that_reaches_the_merged_record_late_is_swept_to_the_kept_one_and_undo_takes_it_back(
    pair, manager
):
    from customers.merging import customer_merge_sweep
    from customers.services import record_interaction

    kept, other = pair
    merge = customer_merge(actor=manager, winner=kept, loser=other)
    late = record_interaction(customer=other, kind="message_in", summary="LINE message that was in flight")

    assert customer_merge_sweep() == 1

    late.refresh_from_db()
    assert late.customer_id == kept.pk
    assert customer_merge_sweep() == 0
    customer_merge_undo(actor=manager, merge=merge)
    late.refresh_from_db()
    assert late.customer_id == other.pk


@pytest.mark.django_db
def test_the_kept_records_merge_page_lists_its_merges_with_undo(pair, manager, login):
    kept, other = pair
    customer_merge(actor=manager, winner=kept, loser=other)

    body = login(manager).get(f"/customers/{kept.pk}/merge/").content.decode()

    assert "王曉明" in body and 'data-testid="merge-undo"' in body


@pytest.mark.django_db(transaction=True)
def test_an_edit_racing_a_merge_is_either_carried_over_or_refused_never_lost(seed_data, rep, manager):
    from customers.services import customer_update

    kept = CustomerFactory(name="Chen Amy", owner=rep)
    other = CustomerFactory(name="Amy Chen", owner=rep)
    barrier = threading.Barrier(2)
    outcomes = {}

    def edit():
        try:
            barrier.wait(timeout=10)
            customer_update(customer=Customer(pk=other.pk), actor=rep, name="Amy Chen-Lin")
            outcomes["edit"] = "saved"
        except ValidationError:
            outcomes["edit"] = "refused"
        finally:
            connections.close_all()

    def merge():
        try:
            barrier.wait(timeout=10)
            customer_merge(
                actor=manager,
                winner=Customer(pk=kept.pk),
                loser=Customer(pk=other.pk),
                choices={"name": "loser"},
            )
            outcomes["merge"] = "merged"
        finally:
            connections.close_all()

    threads = [threading.Thread(target=edit), threading.Thread(target=merge)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert outcomes.get("merge") == "merged"
    kept.refresh_from_db()
    if outcomes.get("edit") == "saved":  # the edit committed first and the merge took its value
        assert kept.name == "Amy Chen-Lin"
    else:
        assert outcomes.get("edit") == "refused" and kept.name == "Amy Chen"
