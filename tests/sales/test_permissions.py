"""Who may do what in sales: every URL as every role, and which rows each role sees."""

import pytest
from django.urls import reverse
from guardian.shortcuts import assign_perm

from crm import roles
from sales.models import Deal
from sales.selectors import deals_visible_to, tasks_visible_to
from tests.factories import CustomerFactory, UserFactory

from .factories import DealFactory, TaskFactory, stage

pytestmark = pytest.mark.django_db

AGENT, REP, MANAGER, ADMIN = roles.AGENT, roles.SALES_REP, roles.MANAGER, roles.ADMIN
EVERYONE = {AGENT, REP, MANAGER, ADMIN}
SELLERS = {REP, MANAGER, ADMIN}


@pytest.fixture
def task(rep, customer):
    return TaskFactory(title="Call 王小明", assignee=rep, customer=customer)


def urls(deal, task):
    """(method, url, data, roles allowed) for every sales URL, on a deal and task the rep owns."""
    new = stage("New")
    return [
        ("get", reverse("sales:board"), {}, EVERYONE),
        ("get", reverse("sales:pipeline-board", args=[new.pipeline_id]), {}, EVERYONE),
        ("get", reverse("sales:board-column", args=[new.pipeline_id, new.pk]), {}, EVERYONE),
        ("get", reverse("sales:deals"), {}, EVERYONE),
        ("get", reverse("sales:deal-export"), {}, {MANAGER, ADMIN}),
        ("get", reverse("sales:deal-create"), {}, SELLERS),
        ("get", reverse("sales:customer-options"), {"q": "王"}, SELLERS),
        ("get", reverse("sales:deal", args=[deal.pk]), {}, EVERYONE),
        ("get", reverse("sales:deal-edit", args=[deal.pk]), {}, SELLERS),
        ("get", reverse("sales:deal-card", args=[deal.pk]), {}, EVERYONE),
        ("get", reverse("sales:deal-quick-edit", args=[deal.pk]), {}, SELLERS),
        (
            "post",
            reverse("sales:deal-move", args=[deal.pk]),
            {"stage": stage("Qualified").pk, "version": 1},
            SELLERS,
        ),
        (
            "post",
            reverse("sales:line-item-add", args=[deal.pk]),
            {"description": "x", "unit_price": 1},
            SELLERS,
        ),
        ("post", reverse("sales:deal-share", args=[deal.pk]), {}, {MANAGER, ADMIN}),
        ("get", reverse("sales:my-day"), {}, EVERYONE),
        ("get", reverse("sales:task-create"), {}, EVERYONE),
        ("get", reverse("sales:task-edit", args=[task.pk]), {}, EVERYONE),
        ("post", reverse("sales:task-take", args=[task.pk]), {}, EVERYONE),
        ("get", reverse("sales:settings"), {}, {ADMIN}),
        ("get", reverse("sales:pipeline-create"), {}, {ADMIN}),
        ("get", reverse("sales:pipeline-edit", args=[new.pipeline_id]), {}, {ADMIN}),
        ("get", reverse("sales:settings-create", args=["cadence"]), {}, {ADMIN}),
        ("post", reverse("sales:task-complete", args=[task.pk]), {}, EVERYONE),
        ("post", reverse("sales:task-delete", args=[task.pk]), {}, SELLERS),
        ("post", reverse("sales:deal-delete", args=[deal.pk]), {}, {MANAGER, ADMIN}),
    ]


@pytest.mark.parametrize("role", [AGENT, REP, MANAGER, ADMIN])
def test_permission_matrix(login, users, role, customer, rep):
    user = users[role]
    client = login(user)
    # the agent worked on the rep's customer (a call), so they may see it and its deals
    if role == AGENT:
        from customers.services import note_add

        note_add(customer=customer, actor=user, text="Took a call")
    deal = DealFactory(customer=customer, owner=rep, title="ERP rollout")
    task = TaskFactory(title="Call 王小明", assignee=user if role == AGENT else rep, customer=customer)
    for method, url, data, allowed in urls(deal, task):
        response = getattr(client, method)(url, data)
        if role in allowed:
            assert response.status_code in (200, 302), (
                f"{role}: {method.upper()} {url} -> {response.status_code}"
            )
        else:
            assert response.status_code == 403, f"{role}: {method.upper()} {url} -> {response.status_code}"


def test_objects_others_cannot_see_are_404_not_403(login, rep, hidden_deal, other_team):
    task = TaskFactory(title="Hidden task", assignee=hidden_deal.owner, customer=hidden_deal.customer)
    client = login(rep)
    for url in (
        reverse("sales:deal", args=[hidden_deal.pk]),
        reverse("sales:deal-card", args=[hidden_deal.pk]),
        reverse("sales:deal-quick-edit", args=[hidden_deal.pk]),
        reverse("sales:deal-edit", args=[hidden_deal.pk]),
        reverse("sales:task-edit", args=[task.pk]),
    ):
        assert client.get(url).status_code == 404, url
    for url in (
        reverse("sales:deal-move", args=[hidden_deal.pk]),
        reverse("sales:task-complete", args=[task.pk]),
        reverse("sales:line-item-add", args=[hidden_deal.pk]),
    ):
        assert client.post(url, {"stage": stage("Won").pk, "version": 1}).status_code == 404, url
    hidden_deal.refresh_from_db()
    task.refresh_from_db()
    assert hidden_deal.stage == stage("New") and task.done_at is None


def test_anonymous_visitors_are_sent_to_log_in(client, deal):
    for url in (reverse("sales:board"), reverse("sales:my-day"), reverse("sales:deal", args=[deal.pk])):
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# Rows ----------------------------------------------------------------------------------------------


def test_reps_see_their_deals_and_those_of_customers_they_own_or_that_are_shared(rep, other_rep, customer):
    own = DealFactory(customer=CustomerFactory(owner=other_rep), owner=rep, title="Own")
    of_my_customer = DealFactory(customer=customer, owner=other_rep, title="Of my customer")
    shared_customer = CustomerFactory(owner=other_rep)
    assign_perm("customers.view_customer", rep, shared_customer)
    via_customer_share = DealFactory(customer=shared_customer, owner=other_rep, title="Customer shared")
    shared_deal = DealFactory(customer=CustomerFactory(owner=other_rep), owner=other_rep, title="Deal shared")
    assign_perm("sales.view_deal", rep, shared_deal)
    DealFactory(customer=CustomerFactory(owner=other_rep), owner=other_rep, title="Not mine")

    assert set(deals_visible_to(rep)) == {own, of_my_customer, via_customer_share, shared_deal}


def test_managers_see_their_teams_deals_and_admins_all(manager, rep, other_team, customer):
    outsider = UserFactory(username="far-away", role=roles.SALES_REP, team=other_team)
    team_deal = DealFactory(customer=customer, owner=rep)
    other = DealFactory(customer=CustomerFactory(owner=outsider), owner=outsider)
    admin = UserFactory(username="boss", role=roles.ADMIN)

    assert list(deals_visible_to(manager)) == [team_deal]
    assert set(deals_visible_to(admin)) == {team_deal, other}


def test_agents_see_read_only_deals_of_customers_they_worked_on(agent, customer, rep):
    from customers.services import note_add

    deal = DealFactory(customer=customer, owner=rep)
    assert not deals_visible_to(agent).exists()
    note_add(customer=customer, actor=agent, text="Called in")
    assert list(deals_visible_to(agent)) == [deal]
    assert not agent.has_perm("sales.change_deal")


def test_users_without_a_role_see_no_deals_or_tasks(team, deal):
    nobody = UserFactory(username="nobody", team=team)
    TaskFactory(assignee=nobody)
    assert not deals_visible_to(nobody).exists() and not tasks_visible_to(nobody).exists()


def test_tasks_visible_to_assignee_creator_team_queue_and_managers(
    rep, other_rep, manager, agent, team, other_team
):
    mine = TaskFactory(assignee=rep)
    queue = TaskFactory(team=team)
    theirs = TaskFactory(assignee=other_rep)
    elsewhere = TaskFactory(assignee=UserFactory(username="x", role=roles.SALES_REP, team=other_team))

    assert set(tasks_visible_to(rep)) == {mine, queue}
    assert set(tasks_visible_to(manager)) == {mine, queue, theirs}
    assert elsewhere not in set(tasks_visible_to(agent))


def test_deal_rows_are_deals(deal):
    assert isinstance(deal, Deal)
