"""Handing tickets out within a team: round robin or least busy, preferring available agents."""

import pytest
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied, ValidationError

from callcenter.services import agent_status_set
from crm import roles
from customers.models import Interaction
from tests.factories import CustomerFactory, TeamFactory, UserFactory
from tickets import services
from tickets.models import AssignmentRule, Ticket

from .factories import AssignmentRuleFactory, TicketFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def support():
    return TeamFactory(name="Support")


@pytest.fixture
def agents(support):
    return [UserFactory(username=f"support-{n}", role=roles.AGENT, team=support) for n in range(3)]


@pytest.fixture
def lead(support):
    user = UserFactory(username="support-lead", role=roles.MANAGER, team=support)
    support.manager = user
    support.save()
    return user


@pytest.fixture
def caller(support):
    return CustomerFactory(name="林美惠", team=support)


def open_for_team(lead, caller, support, n=1):
    return [
        services.ticket_create(actor=lead, customer=caller, subject=f"Question {i}", team=support)
        for i in range(n)
    ]


def test_round_robin_takes_turns_fairly(lead, agents, caller, support):
    AssignmentRuleFactory(team=support, strategy="round_robin", available_only=False)
    tickets = open_for_team(lead, caller, support, n=8)  # the lead works tickets too: four people
    people = [ticket.assignee for ticket in tickets]
    assert people[:4] == sorted(agents + [lead], key=lambda u: u.pk)
    assert people[4:] == people[:4]
    assert {t.assigned_via for t in tickets} == {Ticket.AssignedVia.ROUND_ROBIN}


def test_only_available_agents_get_tickets_while_anyone_is_available(lead, agents, caller, support):
    AssignmentRuleFactory(team=support, strategy="round_robin", available_only=True)
    agent_status_set(user=agents[1], status="available")
    agent_status_set(user=agents[2], status="busy")

    tickets = open_for_team(lead, caller, support, n=3)

    assert {t.assignee for t in tickets} == {agents[1]}


def test_nobody_available_falls_back_to_every_active_member(lead, agents, caller, support):
    AssignmentRuleFactory(team=support, strategy="round_robin", available_only=True)
    for agent in agents:
        agent_status_set(user=agent, status="away")
    agents[0].is_active = False
    agents[0].save()

    tickets = open_for_team(lead, caller, support, n=3)

    assert {t.assignee for t in tickets} == {agents[1], agents[2], lead}


def test_least_busy_picks_whoever_has_fewest_open_tickets(lead, agents, caller, support):
    AssignmentRuleFactory(team=support, strategy="least_busy", available_only=False)
    for agent, load in zip(agents, (3, 1, 2), strict=True):
        TicketFactory.create_batch(load, customer=caller, assignee=agent, status="open")
    TicketFactory.create_batch(5, customer=caller, assignee=lead, status="open")
    TicketFactory.create_batch(
        4, customer=caller, assignee=agents[1], status="closed"
    )  # closed ones do not count

    first, second, third = open_for_team(lead, caller, support, n=3)

    assert first.assignee == agents[1]  # 1 open
    assert {second.assignee, third.assignee} == {agents[1], agents[2]}  # 2 each now: they take turns


def test_the_rule_that_chose_is_recorded_on_the_ticket_and_the_timeline(lead, agents, caller, support):
    AssignmentRuleFactory(team=support, strategy="least_busy", available_only=True)
    agent_status_set(user=agents[2], status="available")

    (ticket,) = open_for_team(lead, caller, support)

    assert ticket.assignee == agents[2] and ticket.assigned_via == Ticket.AssignedVia.LEAST_BUSY
    entry = Interaction.objects.get(
        subject_type=ContentType.objects.get_for_model(Ticket), subject_id=ticket.pk, data__event="created"
    )
    assert entry.data["assignment_rule"] == "least_busy"
    assert entry.data["assignment_pool"] == "available" and entry.data["assignment_candidates"] == 1


def test_a_team_without_automatic_assignment_keeps_new_tickets_in_its_queue(lead, agents, caller, support):
    AssignmentRuleFactory(team=support, auto_assign=False)
    (ticket,) = open_for_team(lead, caller, support)
    assert ticket.assignee is None and ticket.team == support

    ticket = services.ticket_assign(ticket=ticket, actor=lead, auto=True)
    assert ticket.assignee is not None and ticket.assigned_via == Ticket.AssignedVia.ROUND_ROBIN
    assert AssignmentRule.objects.get(team=support).last_assignee == ticket.assignee


def test_agents_may_take_tickets_but_not_hand_them_to_others(lead, agents, caller, support):
    (ticket,) = open_for_team(lead, caller, support)
    services.ticket_assign(ticket=ticket, actor=agents[0], assignee=agents[0])
    with pytest.raises(PermissionDenied):
        services.ticket_assign(ticket=ticket, actor=agents[0], assignee=agents[1])
    with pytest.raises(PermissionDenied):
        services.ticket_assign(ticket=ticket, actor=agents[0], auto=True)


def test_auto_assignment_without_a_rule_says_so(lead, caller, support, agents):
    (ticket,) = open_for_team(lead, caller, support)
    with pytest.raises(ValidationError) as error:
        services.ticket_assign(ticket=ticket, actor=lead, auto=True)
    assert "no assignment rule" in str(error.value)
