"""Lead scores: what makes them, how they fade, when they are recomputed, and the Leads page."""

import datetime as dt

import pytest
from django.utils import timezone

from customers import services as customer_services
from customers.models import SocialIdentity
from reports import scoring
from reports.models import CustomerScore
from sales import orders
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def interact(customer, kind, days_ago=0, count=1):
    for _ in range(count):
        customer_services.record_interaction(
            customer=customer,
            kind=kind,
            summary=kind,
            occurred_at=timezone.now() - dt.timedelta(days=days_ago),
        )


def test_a_complete_profile_scores_30_and_says_why(customer):
    SocialIdentity.objects.create(customer=customer, provider="line", external_id="U1")
    customer.source = "LINE"
    customer.save()
    score, reasons = scoring.scores_compute([customer.pk])[customer.pk]
    assert score == 30
    assert {r["code"] for r in reasons} == {"phone", "email", "social", "organisation", "tags"}


def test_recent_replies_postbacks_and_orders_raise_the_score_and_old_ones_count_less(rep):
    fresh, stale = CustomerFactory(owner=rep), CustomerFactory(owner=rep)
    for customer, days in ((fresh, 1), (stale, 60)):
        interact(customer, "message_in", days, count=2)
        interact(customer, "postback", days)
        interact(customer, "order", days)
    computed = scoring.scores_compute([fresh.pk, stale.pk])
    assert computed[fresh.pk][0] == 10 + 6 + 12
    assert computed[stale.pk][0] == round(10 * 0.2) + round(6 * 0.2) + round(12 * 0.2)
    labels = [r["label"] for r in scoring.reasons_display(computed[fresh.pk][1])]
    assert str(labels[0]).startswith("Order × 1")


def test_an_unfollow_takes_points_away_and_the_score_stays_within_0_and_100(rep):
    cold, hot = CustomerFactory(owner=rep), CustomerFactory(owner=rep)
    interact(cold, "unfollow")
    for kind in ("order", "message_in", "postback", "call", "quote", "follow"):
        interact(hot, kind, count=10)
    computed = scoring.scores_compute([cold.pk, hot.pk])
    assert computed[cold.pk][0] == 0
    assert computed[hot.pk][0] == 70  # engagement is capped at 70; no contact details


def test_interactions_older_than_90_days_do_not_count(rep):
    customer = CustomerFactory(owner=rep)
    interact(customer, "order", days_ago=120)
    assert scoring.scores_compute([customer.pk])[customer.pk] == (0, [])


def test_scores_are_computed_in_constant_queries(rep, django_assert_num_queries):
    customers = [CustomerFactory(owner=rep, phones=["0912-345-678"]) for _ in range(20)]
    for customer in customers:
        interact(customer, "call")
    with django_assert_num_queries(5):  # four reads and one upsert
        assert scoring.scores_recompute([c.pk for c in customers]) == 20


def test_a_new_timeline_entry_recomputes_the_score_after_commit(rep, django_capture_on_commit_callbacks):
    customer = CustomerFactory(owner=rep, phones=["0912-345-678"])
    with django_capture_on_commit_callbacks(execute=True):
        interact(customer, "message_in")
        interact(customer, "message_in")
    stored = CustomerScore.objects.get(customer=customer)
    assert stored.score == 8 + 10


def test_an_order_recorded_through_the_api_path_raises_the_score(
    rep, customer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        orders.order_create(actor=rep, number="S-1", customer=customer, amount=100)
    assert CustomerScore.objects.get(customer=customer).score == 8 + 8 + 4 + 12


def test_the_nightly_run_scores_everybody_and_fades_old_engagement(rep):
    customer = CustomerFactory(owner=rep)
    interact(customer, "order", days_ago=3)
    scoring.scores_recompute_all()
    assert CustomerScore.objects.get(customer=customer).score == 12
    scoring.scores_recompute_all(now=timezone.now() + dt.timedelta(days=10))
    assert CustomerScore.objects.get(customer=customer).score == 6


def test_the_360_page_shows_the_score_with_its_reasons(login, rep, customer):
    scoring.scores_recompute([customer.pk])
    body = login(rep).get(f"/customers/{customer.pk}/").content.decode()
    assert 'data-testid="lead-score-value">20<' in body
    assert "Has a phone number" in body


# The Leads page ----------------------------------------------------------------------------------


@pytest.fixture
def scored_leads(rep, other_team):
    from crm import roles
    from tests.factories import UserFactory

    outsider = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    leads = {
        "warm": CustomerFactory(
            name="Warm lead", owner=rep, phones=["0912-000-001"], emails=["w@example.com"]
        ),
        "cold": CustomerFactory(name="Cold lead", owner=rep),
        "mid": CustomerFactory(name="Mid lead", owner=rep, phones=["0912-000-002"]),
        "bought": CustomerFactory(name="Customer already", owner=rep, lifecycle_stage="customer"),
        "hidden": CustomerFactory(name="Hidden lead", owner=outsider, phones=["0912-000-003"]),
    }
    scoring.scores_recompute([c.pk for c in leads.values()])
    return leads


def names(response):
    return [lead.name for lead in response.context["leads"]]


def test_the_leads_page_lists_visible_leads_by_score(login, rep, scored_leads):
    response = login(rep).get("/sales/leads/")
    assert response.status_code == 200
    assert names(response) == ["Warm lead", "Mid lead", "Cold lead"]
    assert "Has a phone number" in response.content.decode()


def test_the_leads_page_filters_and_sorts_by_score(login, rep, scored_leads):
    client = login(rep)
    assert names(client.get("/sales/leads/?min_score=5")) == ["Warm lead", "Mid lead"]
    assert names(client.get("/sales/leads/?max_score=10&sort=score")) == ["Cold lead", "Mid lead"]
    assert names(client.get("/sales/leads/?min_score=500")) == ["Warm lead", "Mid lead", "Cold lead"]
    htmx = client.get("/sales/leads/?q=warm", headers={"HX-Request": "true", "HX-Target": "lead-table"})
    body = htmx.content.decode()
    assert "<html" not in body and "Warm lead" in body and "Cold lead" not in body


def test_the_leads_page_costs_the_same_queries_for_5_or_50_leads(login, rep, django_assert_max_num_queries):
    customers = [CustomerFactory(owner=rep, phones=[f"0912-100-{i:03d}"]) for i in range(50)]
    scoring.scores_recompute([c.pk for c in customers])
    client = login(rep)
    client.get("/sales/leads/")
    with django_assert_max_num_queries(10):
        response = client.get("/sales/leads/")
    assert len(response.context["leads"]) == 25


def test_a_lead_not_scored_yet_shows_when_sorted_by_date_and_joins_the_score_list_once_scored(
    login, rep, scored_leads
):
    fresh = CustomerFactory(name="Just arrived", owner=rep)
    client = login(rep)
    assert "Just arrived" not in names(client.get("/sales/leads/"))
    assert names(client.get("/sales/leads/?sort=-created"))[0] == "Just arrived"
    scoring.scores_recompute([fresh.pk])
    assert names(client.get("/sales/leads/"))[-1] == "Just arrived"
