"""SLA deadlines on real tickets with a frozen clock: policies, holidays, pausing while pending."""

import pytest

from tickets import services
from tickets.models import Priority, SlaEvent, Ticket

from .conftest import taipei
from .factories import CategoryFactory, SlaPolicyFactory

pytestmark = pytest.mark.django_db


def open_ticket(customer, actor, **kwargs):
    return services.ticket_create(actor=actor, customer=customer, subject="Parcel arrived damaged", **kwargs)


def test_a_ticket_opened_friday_1730_must_be_answered_by_monday_1030(clock, policy, customer, rep):
    clock.set(taipei(2026, 11, 20, 17, 30))

    ticket = open_ticket(customer, rep)

    assert ticket.sla_policy == policy
    assert ticket.first_response_due == taipei(2026, 11, 23, 10, 30)
    assert ticket.first_response_warn_at == taipei(2026, 11, 23, 10, 0)
    assert ticket.resolution_due == taipei(2026, 11, 23, 17, 30)  # nine business hours
    assert ticket.sla_state == Ticket.SlaState.OK and ticket.sla_due == ticket.first_response_due
    assert ticket.sla_check_at == ticket.first_response_warn_at


def test_deadlines_skip_taiwan_holidays_from_the_seeded_calendar(clock, policy, customer, rep):
    clock.set(taipei(2026, 9, 24, 17, 0))  # Thursday before Mid-Autumn and Teachers' Day

    ticket = open_ticket(customer, rep)

    assert ticket.first_response_due == taipei(2026, 9, 29, 10, 0)


def test_the_clock_stops_while_pending_on_the_customer(clock, policy, customer, rep):
    clock.set(taipei(2026, 11, 23, 9, 0))
    ticket = open_ticket(customer, rep)
    assert ticket.resolution_due == taipei(2026, 11, 23, 18, 0)

    clock.set(taipei(2026, 11, 23, 10, 0))
    services.ticket_reply(ticket=ticket, actor=rep, body="Could you send a photo?", status="pending")
    ticket.refresh_from_db()
    assert ticket.sla_state == Ticket.SlaState.PAUSED and ticket.sla_check_at is None

    clock.set(taipei(2026, 11, 24, 10, 0))  # the customer answers the next morning
    services.ticket_set_status(ticket=ticket, actor=rep, status="open")
    ticket.refresh_from_db()

    assert ticket.sla_paused_seconds == 9 * 3600  # Monday 10:00-18:00 and Tuesday 09:00-10:00
    assert ticket.resolution_due == taipei(2026, 11, 24, 18, 0)
    assert ticket.sla_state == Ticket.SlaState.OK and ticket.sla_paused_at is None


def test_a_paused_ticket_is_left_alone_by_the_sweep(clock, policy, customer, rep):
    clock.set(taipei(2026, 11, 23, 9, 0))
    ticket = open_ticket(customer, rep)
    services.ticket_set_status(ticket=ticket, actor=rep, status="pending")

    clock.set(taipei(2026, 11, 30, 9, 0))
    result = services.sla_sweep()

    ticket.refresh_from_db()
    assert result.tickets == 0 and not SlaEvent.objects.exists()
    assert ticket.sla_state == Ticket.SlaState.PAUSED


def test_the_first_public_reply_meets_the_first_response_target(clock, policy, customer, rep):
    clock.set(taipei(2026, 11, 23, 9, 0))
    ticket = open_ticket(customer, rep)

    clock.set(taipei(2026, 11, 23, 9, 45))
    services.ticket_reply(ticket=ticket, actor=rep, body="Looking into it", internal=True)
    ticket.refresh_from_db()
    assert ticket.first_responded_at is None  # an internal note is not an answer

    services.ticket_reply(ticket=ticket, actor=rep, body="We are sending a replacement.")
    ticket.refresh_from_db()
    assert ticket.first_responded_at == taipei(2026, 11, 23, 9, 45)
    assert ticket.status == Ticket.Status.OPEN  # a new ticket opens with the first answer
    assert ticket.sla_due == ticket.resolution_due


def test_solving_late_leaves_the_ticket_marked_breached(clock, policy, customer, rep):
    clock.set(taipei(2026, 11, 23, 9, 0))
    ticket = open_ticket(customer, rep)

    clock.set(taipei(2026, 11, 24, 12, 0))
    services.ticket_set_status(ticket=ticket, actor=rep, status="solved")
    ticket.refresh_from_db()

    assert ticket.sla_state == Ticket.SlaState.BREACHED and ticket.sla_check_at is None


def test_solving_in_time_meets_the_sla(clock, policy, customer, rep):
    clock.set(taipei(2026, 11, 23, 9, 0))
    ticket = open_ticket(customer, rep)
    services.ticket_reply(ticket=ticket, actor=rep, body="Done", status="solved")
    ticket.refresh_from_db()
    assert ticket.sla_state == Ticket.SlaState.MET


def test_the_most_specific_policy_wins_and_a_priority_change_moves_the_deadlines(
    clock, policy, customer, rep
):
    billing = CategoryFactory(name="Billing")
    refund = CategoryFactory(name="Refund", parent=billing)
    SlaPolicyFactory(
        name="Urgent", priority=Priority.URGENT, first_response_minutes=30, resolution_minutes=240
    )
    billing_policy = SlaPolicyFactory(name="Billing", category=billing, first_response_minutes=60)
    clock.set(taipei(2026, 11, 23, 9, 0))

    ticket = open_ticket(customer, rep, category=refund)
    assert ticket.sla_policy == billing_policy  # the parent category's policy covers Refund
    assert ticket.first_response_due == taipei(2026, 11, 23, 10, 0)

    other = open_ticket(customer, rep)
    services.ticket_update(ticket=other, actor=rep, expected_version=other.version, priority=Priority.URGENT)
    other.refresh_from_db()
    assert other.sla_policy.name == "Urgent"
    assert other.first_response_due == taipei(2026, 11, 23, 9, 30)


def test_without_a_policy_there_is_no_clock(clock, customer, rep, taiwan_calendar):
    from tickets.models import SlaPolicy

    SlaPolicy.objects.update(active=False)
    ticket = open_ticket(customer, rep)
    assert ticket.sla_state == Ticket.SlaState.NONE and ticket.sla_due is None and ticket.sla_check_at is None
