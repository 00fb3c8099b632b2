"""A call wrap-up's "Open a ticket" makes a real ticket, linked to the call."""

import pytest
from django.urls import reverse
from django.utils import timezone

from callcenter.models import Call
from callcenter.services import call_wrap_up
from crm import followups
from customers.models import Interaction
from tickets.models import Ticket

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(agent, customer):
    now = timezone.now()
    return Call.objects.create(
        call_id="pbx-4711",
        direction=Call.Direction.INBOUND,
        from_number="+886912345678",
        customer=customer,
        agent=agent,
        extension=agent.extension,
        state=Call.State.ENDED,
        ringing_at=now,
        answered_at=now,
        ended_at=now,
    )


def test_wrap_up_with_open_a_ticket_creates_a_ticket_linked_to_the_call(call, agent, customer):
    call_wrap_up(
        call=call,
        actor=agent,
        disposition=None,
        note="Order arrived damaged\nWants a refund",
        create_ticket=True,
    )

    ticket = Ticket.objects.get()
    assert ticket.customer == customer and ticket.subject == "Order arrived damaged"
    assert ticket.description == "Order arrived damaged\nWants a refund"
    assert ticket.origin == call and ticket.source == Ticket.Source.PHONE
    assert ticket.assignee == agent and ticket.created_by == agent and ticket.team == agent.team
    assert ticket.first_responded_at is not None  # the customer was answered on the phone
    entry = Interaction.objects.get(kind=Interaction.Kind.TICKET)
    assert entry.summary == f"Ticket #{ticket.number} opened: Order arrived damaged"
    assert entry.channel == Interaction.Channel.PHONE and entry.data["call_id"] == "pbx-4711"
    assert not Interaction.objects.filter(summary__startswith="Ticket requested").exists()


def test_the_wrap_up_form_opens_the_ticket_and_the_agent_can_see_it(call, agent, login):
    client = login(agent)
    response = client.post(
        reverse("callcenter:wrap-up", args=[call.pk]), {"note": "Broken screen", "create_ticket": "1"}
    )
    assert response.status_code == 200

    ticket = Ticket.objects.get()
    page = client.get(reverse("tickets:detail", args=[ticket.pk]))
    assert page.status_code == 200 and "Broken screen" in page.content.decode()
    assert 'data-testid="ticket-origin"' in page.content.decode()


def test_followups_create_routes_tickets_to_the_tickets_app(customer, rep):
    created = followups.create(
        followups.FollowUp(
            kind=followups.TICKET, customer=customer, title="Call back about the invoice", actor=rep
        )
    )
    assert isinstance(created, Ticket) and created.source == Ticket.Source.MANUAL
    assert created.first_responded_at is None


def test_the_open_ticket_shows_on_the_caller_card(call, agent, customer, rep):
    from callcenter.cards import card_html

    followups.create(
        followups.FollowUp(kind=followups.TICKET, customer=customer, title="Refund pending", actor=rep)
    )
    html = card_html(call=call, user=agent)
    assert 'data-testid="call-tickets"' in html and "Refund pending" in html


def test_a_customer_merge_can_move_the_duplicates_tickets(customer, rep):
    from tests.factories import CustomerFactory
    from tickets import services

    duplicate = CustomerFactory(name="王小明 (duplicate)", owner=rep)
    ticket = services.ticket_create(actor=rep, customer=duplicate, subject="Filed under the duplicate")
    assert services.tickets_move_customer(source=duplicate, target=customer) == 1
    ticket.refresh_from_db()
    assert ticket.customer == customer
