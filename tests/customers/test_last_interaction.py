"""Customer.last_interaction_at follows the timeline, whichever writer added to it."""

import datetime as dt

import pytest
from django.db import connection
from django.db.models import Max
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from customers import segments
from customers.merging import customer_merge, customer_merge_undo
from customers.models import Customer, Interaction
from customers.services import (
    InteractionEntry,
    last_interaction_recompute,
    record_interaction,
    record_interactions,
)
from tests.factories import CustomerFactory, InteractionFactory

pytestmark = pytest.mark.django_db


def _stored(customer):
    return Customer.objects.values_list("last_interaction_at", flat=True).get(pk=customer.pk)


def _timeline_newest(customer):
    return Interaction.objects.filter(customer=customer).aggregate(newest=Max("occurred_at"))["newest"]


def test_a_new_customer_has_never_interacted():
    customer = CustomerFactory()

    assert _stored(customer) is None


def test_a_recorded_interaction_becomes_the_last_and_a_backdated_one_does_not_move_it_back():
    customer = CustomerFactory()
    now = timezone.now()

    record_interaction(customer=customer, kind="note", summary="Called", occurred_at=now)
    record_interaction(
        customer=customer, kind="note", summary="Old letter", occurred_at=now - dt.timedelta(days=9)
    )

    assert _stored(customer) == now
    assert customer.last_interaction_at == now


def test_saving_a_customer_loaded_before_an_interaction_keeps_the_new_last_interaction():
    customer = CustomerFactory()
    stale = Customer.objects.get(pk=customer.pk)
    record_interaction(customer=customer, kind="note", summary="Called")

    stale.source = "fair"
    stale.save()

    assert _stored(customer) == _timeline_newest(customer)
    assert Customer.objects.get(pk=customer.pk).source == "fair"


def test_a_batch_of_interactions_sets_each_customers_newest_in_one_statement():
    first, second, untouched = CustomerFactory(), CustomerFactory(), CustomerFactory()
    now = timezone.now()
    entries = [
        InteractionEntry(
            customer_id=first.pk, kind="message_in", summary="a", occurred_at=now - dt.timedelta(days=3)
        ),
        InteractionEntry(
            customer_id=first.pk, kind="message_in", summary="b", occurred_at=now - dt.timedelta(days=1)
        ),
        InteractionEntry(
            customer_id=second.pk, kind="message_in", summary="c", occurred_at=now - dt.timedelta(days=5)
        ),
    ]
    InteractionFactory(customer=second, occurred_at=now)

    with CaptureQueriesContext(connection) as queries:
        assert record_interactions(entries) == 3

    customer_updates = [
        q for q in queries if q["sql"].lstrip().upper().startswith('UPDATE "CUSTOMERS_CUSTOMER"')
    ]
    assert len(customer_updates) == 1
    assert _stored(first) == now - dt.timedelta(days=1)
    assert _stored(second) == now
    assert _stored(untouched) is None


def test_merge_and_undo_keep_both_records_last_interaction_in_step_with_their_timelines(manager):
    now = timezone.now()
    kept = CustomerFactory(name="Kept", owner=manager)
    other = CustomerFactory(name="Other", owner=manager)
    InteractionFactory(customer=kept, occurred_at=now - dt.timedelta(days=300))
    InteractionFactory(customer=other, occurred_at=now - dt.timedelta(days=2))

    merge = customer_merge(actor=manager, winner=kept, loser=other)

    assert _stored(kept) == _timeline_newest(kept)
    assert _stored(kept) >= now - dt.timedelta(days=2)
    assert _stored(other) == _timeline_newest(other)

    customer_merge_undo(actor=manager, merge=merge)

    for customer in (kept, other):
        assert _stored(customer) == _timeline_newest(customer)


def test_recompute_repairs_customers_whose_timeline_was_written_around_the_services():
    customer, silent = CustomerFactory(), CustomerFactory()
    InteractionFactory(customer=customer, occurred_at=timezone.now() - dt.timedelta(days=40))
    Customer.objects.filter(pk__in=[customer.pk, silent.pk]).update(last_interaction_at=timezone.now())

    last_interaction_recompute(customer_ids=[customer.pk, silent.pk])

    assert _stored(customer) == _timeline_newest(customer)
    assert _stored(silent) is None


def test_recency_rules_read_the_customer_column_not_the_timeline():
    rules = {"match": "all", "rules": [{"field": "last_interaction", "op": "within_days", "value": 180}]}
    recent = CustomerFactory()
    InteractionFactory(customer=recent, occurred_at=timezone.now() - dt.timedelta(days=10))
    CustomerFactory()

    query = Customer.objects.filter(segments.compile_rules(segments.validate_rules(rules)))

    assert "customers_interaction" not in str(query.query)
    assert list(query.values_list("pk", flat=True)) == [recent.pk]
