"""New leads and deals get an owner by the rules; a departing rep's customers all find a new owner."""

import threading
from collections import Counter

import pytest
from django.db import connections

from crm import roles
from crm import services as crm_services
from customers import services as customer_services
from customers.models import Customer, Interaction
from customers.services import ContactInput
from sales import services
from sales.assignment import assignment_apply, owner_reassign_on_deactivate, phone_regions
from sales.models import AssignmentLog, AssignmentRule, Deal
from tests.factories import CustomerFactory, TeamFactory, UserFactory

from .factories import DealFactory, stage


@pytest.fixture
def north(db):
    return TeamFactory(name="North")


@pytest.fixture
def north_reps(north):
    return [UserFactory(username=f"north{i}", role=roles.SALES_REP, team=north) for i in range(3)]


def rule(**fields):
    defaults = {"name": "Everything", "strategy": AssignmentRule.Strategy.ROUND_ROBIN}
    return AssignmentRule.objects.create(**{**defaults, **fields})


def test_round_robin_over_n_leads_gives_each_rep_within_one(north, north_reps, admin_user):
    rule(team=north)
    owners = Counter()
    for i in range(10):
        customer = customer_services.customer_create(actor=None, name=f"Lead {i}")
        owners[customer.owner_id] += 1
    assert set(owners) == {rep.pk for rep in north_reps}
    assert max(owners.values()) - min(owners.values()) <= 1
    assert AssignmentLog.objects.filter(rule_name="Everything", reason="new").count() == 10


def test_an_admin_leaving_the_owner_empty_lets_the_rules_decide_and_the_timeline_says_so(
    north, north_reps, admin_user
):
    rule(team=north, name="North round robin")
    customer = customer_services.customer_create(actor=admin_user, name="新客戶")
    customer.refresh_from_db()
    assert customer.owner == north_reps[0] and customer.team == north
    log = AssignmentLog.objects.get(customer=customer)
    assert log.rule_name == "North round robin" and log.previous_owner == admin_user
    entry = customer.interactions.filter(data__assignment=log.pk).get()
    assert "North round robin" in entry.summary and entry.actor == admin_user


def test_an_explicit_owner_is_kept_whatever_the_rules(north, north_reps, rep):
    rule(team=north)
    customer = customer_services.customer_create(actor=rep, name="Mine", owner=rep)
    assert customer.owner == rep
    assert not AssignmentLog.objects.exists()


def test_without_a_matching_rule_the_creator_keeps_the_lead(rep, north, north_reps):
    rule(team=north, condition="source", value="LINE")
    customer = customer_services.customer_create(actor=rep, name="Walk-in", source="store")
    assert customer.owner == rep
    assert not AssignmentLog.objects.exists()


def test_rules_by_source_and_by_phone_area_are_tried_in_order(north, north_reps, other_team):
    south_rep = UserFactory(username="south", role=roles.SALES_REP, team=other_team)
    rule(
        name="LINE leads", position=1, condition="source", value="line", strategy="fixed", user=north_reps[2]
    )
    rule(name="Kaohsiung", position=2, condition="region", value="臺中", strategy="fixed", user=south_rep)
    rule(name="The rest", position=3, team=north)
    from_line = customer_services.customer_create(actor=None, name="A", source="LINE")
    taichung = customer_services.customer_create(
        actor=None, name="B", contacts=ContactInput(phones=["(04) 2345-6789"])
    )
    mobile = customer_services.customer_create(
        actor=None, name="C", contacts=ContactInput(phones=["0912-345-678"])
    )
    assert from_line.owner == north_reps[2]
    assert taichung.owner == south_rep
    assert mobile.owner == north_reps[0]
    assert list(AssignmentLog.objects.order_by("id").values_list("rule_name", flat=True)) == [
        "LINE leads",
        "Kaohsiung",
        "The rest",
    ]


def test_phone_area_comes_from_the_number_and_mobiles_have_none():
    assert "Taipei" in phone_regions("+886223456789")
    assert "臺北" in phone_regions("+886223456789")
    assert phone_regions("+886912345678") == ()
    assert "Shanghai" in phone_regions("+862112345678")


def test_least_open_deals_picks_the_rep_with_the_fewest(north, north_reps, admin_user):
    busy, free, middle = north_reps
    for owner, count in ((busy, 3), (free, 1), (middle, 2)):
        for _ in range(count):
            DealFactory(customer=CustomerFactory(owner=owner), owner=owner)
    DealFactory(customer=CustomerFactory(owner=free), owner=free, stage=stage("Won"))  # closed: not counted
    rule(team=north, strategy="least_open", applies_to="deals")
    customer = CustomerFactory(owner=admin_user)
    deal = services.deal_create(actor=None, customer=customer, title="Who takes it?")
    assert deal.owner == free
    second = services.deal_create(actor=None, customer=customer, title="And this one?")
    assert second.owner in (free, middle)
    assert Deal.objects.get(pk=deal.pk).owner == free
    assert deal.assignment_logs.get().strategy == "least_open"


def test_deal_rules_do_not_touch_leads_and_disabled_rules_are_skipped(north, north_reps, rep):
    rule(team=north, applies_to="deals")
    rule(name="Off", team=north, applies_to="leads", enabled=False)
    customer = customer_services.customer_create(actor=rep, name="Kept")
    assert customer.owner == rep


def test_a_rule_without_active_reps_falls_through_to_the_next(north, north_reps, other_team, rep):
    rule(name="Empty team", position=1, team=other_team)
    rule(name="North", position=2, team=north)
    assert assignment_apply(customer=CustomerFactory(owner=rep)).rule_name == "North"


@pytest.mark.django_db(transaction=True)
def test_concurrent_assignments_never_pick_the_same_rep_twice(seed_data):
    team = TeamFactory(name="Racers")
    reps = [UserFactory(username=f"racer{i}", role=roles.SALES_REP, team=team) for i in range(4)]
    rule(team=team)
    customers = [CustomerFactory(name=f"Race {i}") for i in range(4)]
    barrier = threading.Barrier(len(customers))
    errors = []

    def assign(customer):
        try:
            barrier.wait(timeout=10)
            assignment_apply(customer=Customer.objects.get(pk=customer.pk))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=assign, args=(c,)) for c in customers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    assert not errors
    owners = list(
        Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("owner_id", flat=True)
    )
    assert sorted(owners) == sorted(r.pk for r in reps)


def test_deactivating_a_rep_leaves_no_customer_or_open_deal_without_an_owner(
    login, admin_user, rep, other_rep, manager, north, north_reps
):
    rule(name="Taipei area", condition="region", value="Taipei", team=north, applies_to="leads")
    by_rule = CustomerFactory(owner=rep, phones=["02-2345-6789"])
    others = [CustomerFactory(owner=rep) for _ in range(4)]
    open_deal = DealFactory(customer=others[0], owner=rep)
    foreign_deal = DealFactory(customer=CustomerFactory(owner=manager), owner=rep)
    won = DealFactory(customer=others[1], owner=rep, stage=stage("Won"))

    response = login(admin_user).post(f"/manage/users/{rep.pk}/deactivate/")

    assert response.status_code == 302
    assert not Customer.objects.filter(owner=rep).exists()
    assert not Customer.objects.filter(owner__isnull=True).exists()
    by_rule.refresh_from_db()
    assert by_rule.owner == north_reps[0]
    assert {c.owner for c in Customer.objects.filter(pk__in=[c.pk for c in others])} == {other_rep}
    open_deal.refresh_from_db()
    foreign_deal.refresh_from_db()
    assert open_deal.owner == other_rep and open_deal.version == 2
    assert foreign_deal.owner == other_rep
    assert Deal.objects.get(pk=won.pk).owner == rep  # closed deals keep their history
    assert AssignmentLog.objects.filter(reason="deactivated", previous_owner=rep).count() == 7
    assert Interaction.objects.filter(customer=by_rule, summary__contains="Taipei area").exists()


def test_a_lone_rep_s_customers_go_to_the_team_manager_then_the_admin(admin_user, other_team):
    lone = UserFactory(username="lone", role=roles.SALES_REP, team=other_team)
    boss = UserFactory(username="boss", role=roles.MANAGER, team=other_team)
    other_team.manager = boss
    other_team.save()
    customer = CustomerFactory(owner=lone)
    crm_services.user_set_active(actor=admin_user, user=lone, active=False)
    customer.refresh_from_db()
    assert customer.owner == boss

    solo = UserFactory(username="solo", role=roles.SALES_REP, team=None)
    orphan = CustomerFactory(owner=solo)
    owner_reassign_on_deactivate(user=solo, actor=admin_user)
    orphan.refresh_from_db()
    assert orphan.owner == admin_user


def test_customers_and_deals_created_through_the_api_without_owner_follow_the_rules(
    login, admin_user, north, north_reps
):
    rule(name="API leads", team=north)
    client = login(admin_user)
    created = client.post(
        "/api/v1/customers/", {"name": "API 客戶", "source": "web"}, content_type="application/json"
    )
    assert created.status_code == 201, created.json()
    assert Customer.objects.get(pk=created.json()["id"]).owner == north_reps[0]
    deal = client.post(
        "/api/v1/deals/",
        {"customer": created.json()["id"], "title": "API deal"},
        content_type="application/json",
    )
    assert deal.status_code == 201 and deal.json()["owner"] == north_reps[1].pk
    explicit = client.post(
        "/api/v1/customers/", {"name": "Mine", "owner": admin_user.pk}, content_type="application/json"
    )
    assert Customer.objects.get(pk=explicit.json()["id"]).owner == admin_user
