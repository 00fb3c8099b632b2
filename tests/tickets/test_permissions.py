"""Who may do what with tickets: the role permission (403 without it) and row access (404 outside it)."""

import pytest
from django.urls import reverse

from crm import roles
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tickets import services
from tickets.models import Ticket
from tickets.selectors import tickets_visible_to

pytestmark = pytest.mark.django_db

ROLES = ["agent", "rep", "manager", "admin", "nobody"]


@pytest.fixture
def people(users, team):
    return {
        "agent": users[roles.AGENT],
        "rep": users[roles.SALES_REP],
        "manager": users[roles.MANAGER],
        "admin": users[roles.ADMIN],
        "nobody": UserFactory(username="nobody", team=team),
    }


@pytest.fixture
def team_ticket(customer, people):
    return services.ticket_create(actor=people["rep"], customer=customer, subject="Team ticket")


@pytest.fixture
def hidden_ticket(other_team):
    owner = UserFactory(username="far-owner", role=roles.SALES_REP, team=other_team)
    stranger = CustomerFactory(name="Stranger", owner=owner)
    return services.ticket_create(actor=owner, customer=stranger, subject="Hidden ticket")


# (what, method, url maker, expected status per role: agent, rep, manager, admin, nobody)
MATRIX = [
    ("queue", "get", lambda t: reverse("tickets:queue"), (200, 200, 200, 200, 403)),
    ("new ticket page", "get", lambda t: reverse("tickets:create"), (200, 200, 200, 200, 403)),
    ("team ticket", "get", lambda t: reverse("tickets:detail", args=[t.pk]), (200, 200, 200, 200, 403)),
    ("reply", "post", lambda t: reverse("tickets:reply", args=[t.pk]), (302, 302, 302, 302, 403)),
    ("take", "post", lambda t: reverse("tickets:take", args=[t.pk]), (302, 302, 302, 302, 403)),
    (
        "assign by rule",
        "post",
        lambda t: reverse("tickets:auto-assign", args=[t.pk]),
        (403, 403, 302, 302, 403),
    ),
    ("merge page", "get", lambda t: reverse("tickets:merge", args=[t.pk]), (403, 403, 200, 200, 403)),
    ("settings", "get", lambda t: reverse("tickets:settings"), (403, 403, 403, 200, 403)),
    ("transitions", "get", lambda t: reverse("tickets:settings-transitions"), (403, 403, 403, 200, 403)),
    ("bulk assign", "post", lambda t: reverse("tickets:bulk"), (403, 403, 302, 302, 403)),
]


@pytest.mark.parametrize(("what", "method", "url", "expected"), MATRIX, ids=[row[0] for row in MATRIX])
@pytest.mark.parametrize("role", ROLES)
def test_permission_matrix(login, people, team_ticket, what, method, url, expected, role):
    user = people[role]
    data = {"body": "Thanks", "action": "assign", "ids": [team_ticket.pk], "assignee": people["agent"].pk}
    response = getattr(login(user), method)(url(team_ticket), data if method == "post" else None)
    assert response.status_code == expected[ROLES.index(role)], f"{role}: {what}"


@pytest.mark.parametrize("role", ["agent", "rep", "manager"])
def test_tickets_outside_ones_rows_are_404_everywhere(login, people, hidden_ticket, role):
    client = login(people[role])
    for name in ("detail", "merge"):
        response = client.get(reverse(f"tickets:{name}", args=[hidden_ticket.pk]))
        assert response.status_code in (403, 404) and "Hidden ticket" not in response.content.decode()
    for name in ("reply", "update", "take", "follow"):
        assert (
            client.post(reverse(f"tickets:{name}", args=[hidden_ticket.pk]), {"body": "x"}).status_code == 404
        )
    assert "Hidden ticket" not in client.get(reverse("tickets:queue"), {"tab": "all"}).content.decode()
    assert not hidden_ticket.comments.exists()


def test_admin_sees_every_ticket(people, team_ticket, hidden_ticket):
    assert set(tickets_visible_to(people["admin"])) == {team_ticket, hidden_ticket}


def test_bulk_actions_leave_out_tickets_the_user_cannot_see(login, people, team_ticket, hidden_ticket):
    response = login(people["manager"]).post(
        reverse("tickets:bulk"),
        {"action": "tag", "tag": "checked", "ids": [team_ticket.pk, hidden_ticket.pk]},
    )
    assert response.status_code == 302
    assert list(team_ticket.tags.values_list("name", flat=True)) == ["checked"]
    assert not hidden_ticket.tags.exists()


def test_visibility_rules(customer, people, other_team):
    rep, agent, manager = people["rep"], people["agent"], people["manager"]
    far_rep = UserFactory(username="far-rep", role=roles.SALES_REP, team=other_team)
    far_customer = CustomerFactory(name="Far", owner=far_rep)
    far_team_ticket = services.ticket_create(actor=far_rep, customer=far_customer, subject="Far queue")
    assigned_to_agent = services.ticket_create(
        actor=people["admin"], customer=far_customer, subject="Assigned", assignee=agent, team=other_team
    )
    followed = services.ticket_create(actor=far_rep, customer=far_customer, subject="Followed")
    services.ticket_follow(ticket=followed, actor=people["admin"])
    followed.followers.add(rep)
    own_customer = services.ticket_create(
        actor=people["admin"], customer=customer, subject="Rep's customer", team=other_team
    )

    assert set(tickets_visible_to(rep)) == {followed, own_customer}
    # The agent's team queue does not include the far team's tickets, but their own assignment does.
    assert assigned_to_agent in tickets_visible_to(agent) and far_team_ticket not in tickets_visible_to(agent)
    # A manager sees tickets assigned to the people of their team, even in another team's queue.
    assert assigned_to_agent in tickets_visible_to(manager) and far_team_ticket not in tickets_visible_to(
        manager
    )


def test_managers_see_the_queues_of_the_teams_they_manage(people):
    second = TeamFactory(name="Night shift")
    second.manager = people["manager"]
    second.save()
    night_rep = UserFactory(username="night-rep", role=roles.SALES_REP, team=second)
    ticket = services.ticket_create(
        actor=night_rep, customer=CustomerFactory(owner=night_rep), subject="Night"
    )
    assert ticket.team == second and ticket in tickets_visible_to(people["manager"])
    assert ticket not in tickets_visible_to(people["agent"])


def test_inactive_users_see_nothing(people, team_ticket):
    user = people["manager"]
    user.is_active = False
    assert not tickets_visible_to(user).exists()
    assert Ticket.objects.count() == 1
