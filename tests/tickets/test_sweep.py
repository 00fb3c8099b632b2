"""The SLA sweep: warnings before the deadline, breaches after, escalation levels that fire once each."""

import pytest
from django.core import mail

from crm import roles
from tests.factories import UserFactory
from tickets import services
from tickets.models import Escalation, EscalationRule, Priority, SlaEvent, Ticket
from tickets.tasks import sla_sweep_task

from .conftest import taipei
from .factories import EscalationRuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def levels(policy):
    """Level 1 warns the assignee; level 2 tells the manager at the breach; level 3 raises the
    priority an hour after a missed resolution."""
    return [
        EscalationRuleFactory(name="L1", level=1, trigger="warning", action="notify_assignee"),
        EscalationRuleFactory(name="L2", level=2, trigger="breach", action="notify_manager"),
        EscalationRuleFactory(
            name="L3",
            level=3,
            trigger="breach",
            target="resolution",
            delay_minutes=60,
            action="raise_priority",
        ),
    ]


@pytest.fixture
def ticket(clock, policy, customer, agent, manager):
    clock.set(taipei(2026, 11, 23, 9, 0))
    return services.ticket_create(
        actor=manager, customer=customer, subject="Refund not received", assignee=agent
    )


def fired(ticket):
    return sorted(Escalation.objects.filter(ticket=ticket).values_list("level", "target"))


def test_nothing_happens_before_the_warning(clock, levels, ticket):
    clock.set(taipei(2026, 11, 23, 10, 29))
    result = services.sla_sweep()
    assert result.tickets == 0 and not Escalation.objects.exists()


def test_levels_fire_in_turn_and_each_only_once(
    clock, levels, ticket, agent, manager, django_capture_on_commit_callbacks
):
    clock.set(taipei(2026, 11, 23, 10, 30))  # 30 business minutes before the first response is due
    with django_capture_on_commit_callbacks(execute=True):
        services.sla_sweep()
    ticket.refresh_from_db()
    assert ticket.sla_state == Ticket.SlaState.WARNING
    assert fired(ticket) == [(1, "first_response")]
    assert Escalation.objects.get().notified == agent
    assert len(mail.outbox) == 1 and mail.outbox[0].to == [agent.email]

    services.sla_sweep()
    services.sla_sweep()
    assert fired(ticket) == [(1, "first_response")]

    clock.set(taipei(2026, 11, 23, 11, 0))  # first response missed
    services.sla_sweep()
    ticket.refresh_from_db()
    assert ticket.sla_state == Ticket.SlaState.BREACHED
    assert fired(ticket) == [(1, "first_response"), (2, "first_response")]
    assert Escalation.objects.get(level=2).notified == manager

    clock.set(taipei(2026, 11, 23, 17, 30))  # resolution: warning
    services.sla_sweep()
    clock.set(taipei(2026, 11, 23, 18, 0))  # resolution missed; level 3 waits an hour
    services.sla_sweep()
    assert fired(ticket) == [
        (1, "first_response"),
        (1, "resolution"),
        (2, "first_response"),
        (2, "resolution"),
    ]
    ticket.refresh_from_db()
    assert ticket.priority == Priority.NORMAL and ticket.sla_check_at == taipei(2026, 11, 23, 19, 0)

    clock.set(taipei(2026, 11, 23, 19, 0))
    services.sla_sweep()
    services.sla_sweep()
    ticket.refresh_from_db()
    assert ticket.priority == Priority.HIGH
    assert fired(ticket).count((3, "resolution")) == 1
    assert sorted(SlaEvent.objects.filter(ticket=ticket).values_list("target", "kind")) == [
        ("first_response", "breach"),
        ("first_response", "warning"),
        ("resolution", "breach"),
        ("resolution", "warning"),
    ]
    assert ticket.sla_check_at is None  # nothing left to happen


def test_a_sweep_after_a_long_outage_skips_warnings_already_overtaken_by_the_breach(clock, levels, ticket):
    clock.set(taipei(2026, 11, 24, 12, 0))
    services.sla_sweep()
    assert fired(ticket) == [(2, "first_response"), (2, "resolution"), (3, "resolution")]
    assert list(SlaEvent.objects.filter(ticket=ticket).values_list("kind", flat=True)) == ["breach", "breach"]


def test_an_answer_in_time_stops_the_first_response_levels(clock, levels, ticket, agent):
    clock.set(taipei(2026, 11, 23, 10, 0))
    services.ticket_reply(ticket=ticket, actor=agent, body="We are on it.")
    clock.set(taipei(2026, 11, 23, 11, 30))
    services.sla_sweep()
    assert fired(ticket) == []


def test_escalation_reassigns_to_a_backup_agent(clock, policy, customer, agent, manager, team):
    backup = UserFactory(username="backup", role=roles.AGENT, team=team)
    EscalationRuleFactory(
        name="Reassign", trigger="breach", target="first_response", action="reassign", assign_to=backup
    )
    clock.set(taipei(2026, 11, 23, 9, 0))
    ticket = services.ticket_create(
        actor=manager, customer=customer, subject="Late", assignee=agent, team=team
    )

    clock.set(taipei(2026, 11, 23, 11, 0))
    services.sla_sweep()

    ticket.refresh_from_db()
    assert ticket.assignee == backup and ticket.assigned_via == Ticket.AssignedVia.ESCALATION


def test_rules_of_another_policy_do_not_fire(clock, policy, ticket):
    from .factories import SlaPolicyFactory

    other = SlaPolicyFactory(name="VIP", priority=Priority.URGENT)
    EscalationRuleFactory(policy=other, trigger="breach")
    clock.set(taipei(2026, 11, 24, 12, 0))
    services.sla_sweep()
    assert not Escalation.objects.exists()


def test_the_sweep_works_in_bounded_batches(clock, levels, customer, rep, manager):
    clock.set(taipei(2026, 11, 23, 9, 0))
    for index in range(5):
        services.ticket_create(actor=rep, customer=customer, subject=f"Ticket {index}", assignee=rep)
    clock.set(taipei(2026, 11, 23, 11, 0))

    result = services.sla_sweep(batch_size=2)

    assert result.tickets == 5 and result.batches == 3
    assert Escalation.objects.filter(level=2).count() == 5
    assert services.sla_sweep().tickets == 0


def test_the_beat_task_runs_the_sweep(clock, levels, ticket):
    clock.set(taipei(2026, 11, 23, 11, 0))
    assert sla_sweep_task.name == "tickets.sla_sweep"
    result = sla_sweep_task.delay().get()
    assert result["breaches"] == 1


def test_escalation_rules_are_configurable_per_level(levels):
    assert [rule.level for rule in EscalationRule.objects.order_by("level")] == [1, 2, 3]
