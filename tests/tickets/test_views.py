"""The pages: queue tabs and filters, the ticket page, bulk actions, merging, saved filters, settings."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import Interaction
from tests.factories import CustomerFactory
from tickets import services
from tickets.models import (
    BusinessCalendar,
    Category,
    Holiday,
    SavedFilter,
    SlaPolicy,
    StatusTransition,
    Ticket,
)

from .conftest import taipei
from .factories import CommentFactory, TicketFactory

pytestmark = pytest.mark.django_db


def count_queries(client, url, **params):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, params)
    assert response.status_code == 200, response.content[:500]
    return len(queries)


def body(response):
    return response.content.decode()


# The queue ----------------------------------------------------------------------------------------


def test_queue_costs_the_same_queries_for_3_or_40_tickets(login, manager, customer, team, agent):
    client = login(manager)
    pages = {
        "my": {"tab": "my"},
        "team": {"tab": "team"},
        "all": {"tab": "all"},
        "filtered": {"tab": "all", "status": "new", "tag": "vip", "assignee": agent.pk, "sort": "due"},
    }
    TicketFactory.create_batch(3, customer=customer, team=team, assignee=agent, tags=["vip"])
    few = {name: count_queries(client, reverse("tickets:queue"), **params) for name, params in pages.items()}
    for index in range(37):
        TicketFactory(
            customer=CustomerFactory(team=team), team=team, assignee=agent, tags=["vip", f"t{index}"]
        )
    many = {name: count_queries(client, reverse("tickets:queue"), **params) for name, params in pages.items()}
    assert many == few


def test_tabs_show_my_team_unassigned_and_breaching_tickets(login, rep, customer, team, agent):
    mine = TicketFactory(customer=customer, team=team, assignee=rep, subject="Mine")
    TicketFactory(customer=customer, team=team, assignee=agent, subject="Colleague's")
    TicketFactory(customer=customer, team=team, subject="Nobody's")
    TicketFactory(customer=customer, team=team, assignee=agent, subject="Late one", sla_state="warning")
    TicketFactory(customer=customer, team=team, assignee=rep, subject="Done", status="closed")
    client = login(rep)

    def subjects(**params):
        response = client.get(reverse("tickets:queue"), params)
        return {t.subject for t in response.context["tickets"]}

    assert subjects(tab="my") == {mine.subject}
    assert subjects(tab="team") == {"Mine", "Colleague's", "Nobody's", "Late one"}
    assert subjects(tab="unassigned") == {"Nobody's"}
    assert subjects(tab="breaching") == {"Late one"}
    assert subjects(tab="all") == {"Mine", "Colleague's", "Nobody's", "Late one", "Done"}
    assert subjects(tab="all", status="closed") == {"Done"}
    assert subjects(tab="all", q="colleague") == {"Colleague's"}
    assert subjects(tab="all", q=f"#{mine.number}") == {"Mine"}
    assert subjects(tab="team", assignee="none") == {"Nobody's"}


def test_the_queue_shows_a_countdown_to_the_next_deadline(login, clock, policy, rep, customer):
    clock.set(taipei(2026, 11, 23, 9, 0))
    services.ticket_create(actor=rep, customer=customer, subject="Countdown")
    clock.set(taipei(2026, 11, 23, 9, 45))
    html = body(login(rep).get(reverse("tickets:queue"), {"tab": "team"}))
    assert 'class="sla-countdown" datetime="2026-11-23T11:00:00+08:00"' in html
    assert "1 h 15 min" in html and 'id="sla-units"' in html


def test_an_empty_queue_says_so(login, rep):
    html = body(login(rep).get(reverse("tickets:queue")))
    assert 'data-testid="queue-empty"' in html and "Nothing assigned to you" in html


def test_htmx_filtering_returns_only_the_table(login, rep, customer, team):
    TicketFactory(customer=customer, team=team, subject="Filtered")
    response = login(rep).get(
        reverse("tickets:queue"), {"tab": "team"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="ticket-table"
    )
    html = body(response)
    assert (
        html.lstrip().startswith('<div id="ticket-table"')
        and "Filtered" in html
        and "<nav" not in html.split("ticket-table")[0]
    )


def test_saved_filters_belong_to_their_user(login, rep, other_rep):
    client = login(rep)
    response = client.post(
        reverse("tickets:filter-save"), {"name": "Urgent for me", "query": "tab=my&priority=urgent&page=3"}
    )
    saved = SavedFilter.objects.get()
    assert response.status_code == 302 and saved.user == rep and saved.query == "tab=my&priority=urgent"
    assert "Urgent for me" in body(client.get(reverse("tickets:queue")))
    assert "Urgent for me" not in body(login(other_rep).get(reverse("tickets:queue")))
    assert login(other_rep).post(reverse("tickets:filter-delete", args=[saved.pk])).status_code == 404
    client.post(reverse("tickets:filter-delete", args=[saved.pk]))
    assert not SavedFilter.objects.exists()


def test_bulk_close_asks_for_confirmation_first(login, manager, customer, team):
    tickets = TicketFactory.create_batch(2, customer=customer, team=team, status="open")
    client = login(manager)
    ids = [t.pk for t in tickets]

    response = client.post(reverse("tickets:bulk"), {"action": "close", "ids": ids})
    assert response.status_code == 200 and 'data-testid="bulk-confirm"' in body(response)
    assert not Ticket.objects.filter(status="closed").exists()

    response = client.post(reverse("tickets:bulk"), {"action": "close", "ids": ids, "confirmed": "1"})
    assert response.status_code == 302
    assert Ticket.objects.filter(status="closed").count() == 2
    assert Interaction.objects.filter(data__event="status", data__new="closed").count() == 2


def test_bulk_assign_and_tag(login, manager, customer, team, agent):
    tickets = TicketFactory.create_batch(3, customer=customer, team=team)
    client = login(manager)
    client.post(
        reverse("tickets:bulk"), {"action": "assign", "assignee": agent.pk, "ids": [t.pk for t in tickets]}
    )
    client.post(reverse("tickets:bulk"), {"action": "tag", "tag": "recall", "ids": [t.pk for t in tickets]})
    assert set(Ticket.objects.values_list("assignee", flat=True)) == {agent.pk}
    assert all(t.tags.filter(name="recall").exists() for t in tickets)


def test_bulk_skips_changes_the_transitions_do_not_allow(login, manager, customer, team):
    closed = TicketFactory(customer=customer, team=team, status="closed")
    StatusTransition.objects.filter(from_status="on_hold", to_status="closed").delete()
    held = TicketFactory(customer=customer, team=team, status="on_hold")
    response = login(manager).post(
        reverse("tickets:bulk"),
        {"action": "close", "ids": [closed.pk, held.pk], "confirmed": "1"},
        follow=True,
    )
    assert "Skipped" in body(response)
    held.refresh_from_db()
    assert held.status == "on_hold"


# The ticket page -------------------------------------------------------------------------------


def test_ticket_page_costs_the_same_queries_for_a_short_or_long_thread(login, rep, customer, media):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Long thread", tags=["a"])
    client = login(rep)
    url = reverse("tickets:detail", args=[ticket.pk])
    CommentFactory.create_batch(2, ticket=ticket, author=rep)
    short = count_queries(client, url)
    CommentFactory.create_batch(60, ticket=ticket, author=rep)
    for index in range(10):
        services.ticket_reply(ticket=ticket, actor=rep, body=f"Reply {index}", internal=index % 2 == 0)
    ticket.followers.add(rep)
    assert count_queries(client, url) == short


def test_reply_status_and_properties_from_the_page(login, rep, customer):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Page flow")
    client = login(rep)
    response = client.post(
        reverse("tickets:reply", args=[ticket.pk]), {"body": "Please send a photo", "status": "pending"}
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    html = body(client.get(reverse("tickets:detail", args=[ticket.pk])))
    assert "Please send a photo" in html and "Pending customer" in html

    response = client.post(
        reverse("tickets:update", args=[ticket.pk]),
        {"version": ticket.version, "status": "open", "priority": "high", "tags": "photo, refund"},
    )
    assert response.status_code == 302
    ticket.refresh_from_db()
    assert ticket.priority == "high" and sorted(ticket.tags.values_list("name", flat=True)) == [
        "photo",
        "refund",
    ]
    timeline = list(Interaction.objects.filter(customer=customer).values_list("data__event", flat=True))
    assert {"created", "reply", "status", "priority"} <= set(timeline)


def test_a_stale_form_is_refused_not_overwriting(login, rep, customer):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Race")
    stale_version = ticket.version
    services.ticket_update(ticket=ticket, actor=rep, expected_version=stale_version, priority="urgent")
    response = login(rep).post(
        reverse("tickets:update", args=[ticket.pk]),
        {"version": stale_version, "status": "new", "priority": "low"},
    )
    assert response.status_code == 400 and "Someone else changed this ticket" in body(response)
    ticket.refresh_from_db()
    assert ticket.priority == "urgent"


def test_a_transition_not_allowed_is_a_field_error(login, rep, customer):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Closed for good")
    services.ticket_set_status(ticket=ticket, actor=rep, status="closed")
    ticket.refresh_from_db()
    response = login(rep).post(
        reverse("tickets:update", args=[ticket.pk]),
        {"version": ticket.version, "status": "open", "priority": "normal"},
    )
    assert response.status_code == 400 and 'data-field-error="status"' in body(response)


def test_an_empty_reply_is_refused_with_a_message(login, rep, customer):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Empty")
    response = login(rep).post(reverse("tickets:reply", args=[ticket.pk]), {"body": "   "})
    assert response.status_code == 400 and 'data-field-error="body"' in body(response)
    assert not ticket.comments.exists()


def test_following_and_taking(login, agent, customer, rep):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Follow me")
    client = login(agent)
    client.post(reverse("tickets:follow", args=[ticket.pk]), {"follow": "1"})
    client.post(reverse("tickets:take", args=[ticket.pk]))
    ticket.refresh_from_db()
    assert list(ticket.followers.all()) == [agent] and ticket.assignee == agent
    client.post(reverse("tickets:follow", args=[ticket.pk]), {"follow": "0"})
    assert not ticket.followers.exists()


def test_merge_shows_both_tickets_before_merging(login, manager, customer, rep):
    original = services.ticket_create(actor=rep, customer=customer, subject="Refund", tags=["refund"])
    duplicate = services.ticket_create(
        actor=rep, customer=customer, subject="Refund again", description="Second mail"
    )
    services.ticket_reply(ticket=duplicate, actor=rep, body="Answered on the duplicate")
    client = login(manager)
    url = reverse("tickets:merge", args=[duplicate.pk])

    response = client.post(url, {"target": original.number})
    assert response.status_code == 200 and 'data-testid="merge-confirm"' in body(response)
    duplicate.refresh_from_db()
    assert duplicate.merged_into is None

    response = client.post(url, {"target": original.number, "confirmed": "1"})
    assert response.status_code == 302
    duplicate.refresh_from_db()
    assert duplicate.merged_into == original and duplicate.status == "closed"
    bodies = list(original.comments.values_list("body", flat=True))
    assert "Answered on the duplicate" in bodies and any("Second mail" in b for b in bodies)
    assert Interaction.objects.filter(data__event="merged").exists()


def test_merge_refuses_other_customers_and_unknown_numbers(login, manager, customer, rep, team):
    ticket = services.ticket_create(actor=rep, customer=customer, subject="Mine")
    other = services.ticket_create(actor=rep, customer=CustomerFactory(owner=rep), subject="Theirs")
    client = login(manager)
    response = client.post(
        reverse("tickets:merge", args=[ticket.pk]), {"target": other.number, "confirmed": "1"}
    )
    assert response.status_code == 400 and "same customer" in body(response)
    response = client.post(
        reverse("tickets:merge", args=[ticket.pk]), {"target": "99999999", "confirmed": "1"}
    )
    assert response.status_code == 400
    assert not Ticket.objects.filter(merged_into__isnull=False).exists()


# Creating -------------------------------------------------------------------------------------------


def test_create_from_the_customer_page(login, rep, customer):
    client = login(rep)
    page = body(client.get(reverse("customers:detail", args=[customer.pk])))
    assert f'href="/tickets/new/?customer={customer.pk}"' in page

    response = client.post(
        reverse("tickets:create") + f"?customer={customer.pk}",
        {
            "customer": customer.pk,
            "subject": "Warranty",
            "priority": "normal",
            "source": "phone",
            "custom_fields": "order: A-1",
        },
    )
    ticket = Ticket.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("tickets:detail", args=[ticket.pk])
    assert ticket.custom_fields == {"order": "A-1"} and ticket.source == "phone"
    assert "Warranty" in body(client.get(reverse("customers:detail", args=[customer.pk])))  # the panel


def test_create_by_phone_and_errors_by_field(login, rep, customer):
    client = login(rep)
    response = client.post(
        reverse("tickets:create"), {"subject": "", "priority": "normal", "source": "manual"}
    )
    html = body(response)
    assert (
        response.status_code == 400
        and 'data-field-error="subject"' in html
        and 'data-field-error="phone"' in html
    )
    response = client.post(
        reverse("tickets:create"),
        {"phone": "0900-000-000", "subject": "Who?", "priority": "normal", "source": "manual"},
    )
    assert response.status_code == 400 and "No customer you can see has this number." in body(response)
    response = client.post(
        reverse("tickets:create"),
        {"phone": "0912 345 678", "subject": "Found", "priority": "normal", "source": "manual"},
    )
    assert response.status_code == 302 and Ticket.objects.get().customer == customer


def test_create_for_a_customer_one_cannot_see_is_404(login, rep, other_team):
    from crm import roles
    from tests.factories import UserFactory

    owner = UserFactory(username="elsewhere", role=roles.SALES_REP, team=other_team)
    stranger = CustomerFactory(name="Elsewhere", owner=owner)
    assert login(rep).get(reverse("tickets:create"), {"customer": stranger.pk}).status_code == 404


def test_the_360_panel_lists_open_tickets_with_constant_queries(login, rep, customer):
    client = login(rep)
    url = reverse("customers:detail", args=[customer.pk])
    services.ticket_create(actor=rep, customer=customer, subject="One")
    few = count_queries(client, url)
    for index in range(8):
        services.ticket_create(actor=rep, customer=customer, subject=f"More {index}")
    assert count_queries(client, url) == few
    html = body(client.get(url))
    assert 'data-testid="tickets-panel"' in html and "All open tickets" in html


# Settings -------------------------------------------------------------------------------------------


def test_admin_edits_a_calendar_and_its_holidays(login, admin_user):
    client = login(admin_user)
    response = client.post(
        reverse("tickets:settings-create", args=["calendars"]),
        {
            "name": "Kaohsiung shop",
            "time_zone": "Asia/Taipei",
            "day_1": "09:00-12:00, 13:00-18:00",
            "day_6": "10:00-14:00",
        },
    )
    calendar = BusinessCalendar.objects.get(name="Kaohsiung shop")
    assert response.status_code == 302
    assert calendar.hours == {"1": [["09:00", "12:00"], ["13:00", "18:00"]], "6": [["10:00", "14:00"]]}

    client.post(
        reverse("tickets:holiday-add", args=[calendar.pk]), {"date": "2026-12-31", "name": "Stocktaking"}
    )
    holiday = Holiday.objects.get(calendar=calendar)
    client.post(reverse("tickets:holiday-delete", args=[holiday.pk]))
    assert not Holiday.objects.filter(calendar=calendar).exists()


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("9-6", "Each interval must end after it starts."),
        ("09:00-18:00, 12:00-13:00", "must not overlap"),
        ("noon", "like 09:00-18:00"),
    ],
)
def test_bad_working_hours_are_field_errors(login, admin_user, hours, message):
    response = login(admin_user).post(
        reverse("tickets:settings-create", args=["calendars"]),
        {"name": "Bad", "time_zone": "Asia/Taipei", "day_1": hours},
    )
    assert response.status_code == 400 and message in body(response)
    assert not BusinessCalendar.objects.filter(name="Bad").exists()


def test_the_seeded_taiwan_calendar_has_the_2026_holidays(taiwan_calendar):
    days = set(taiwan_calendar.holidays.values_list("date", flat=True))
    assert len(days) == 22 and taiwan_calendar.time_zone == "Asia/Taipei"
    assert {d.isoformat() for d in days} >= {
        "2026-01-01",
        "2026-02-17",
        "2026-06-19",
        "2026-09-25",
        "2026-10-10",
    }


def test_admin_edits_policies_categories_and_transitions(login, admin_user):
    client = login(admin_user)
    parent = Category.objects.get(name="Billing", parent=None)
    response = client.post(
        reverse("tickets:settings-create", args=["categories"]),
        {"name": "Chargeback", "parent": parent.pk, "order": 3, "active": "on"},
    )
    assert response.status_code == 302 and Category.objects.filter(name="Chargeback", parent=parent).exists()
    response = client.post(
        reverse("tickets:settings-edit", args=["categories", parent.pk]),
        {"name": "Billing", "parent": Category.objects.get(name="Chargeback").pk, "order": 0},
    )
    assert response.status_code == 400 and "inside itself" in body(response)

    response = client.post(
        reverse("tickets:settings-create", args=["sla"]),
        {
            "name": "Urgent twice",
            "priority": "urgent",
            "first_response_minutes": 10,
            "resolution_minutes": 60,
            "warning_minutes": 5,
            "active": "on",
        },
    )
    assert response.status_code == 400 and "Another active policy" in body(response)
    response = client.post(
        reverse("tickets:settings-create", args=["sla"]),
        {"name": "Backwards", "first_response_minutes": 600, "resolution_minutes": 60, "warning_minutes": 5},
    )
    assert response.status_code == 400 and not SlaPolicy.objects.filter(name="Backwards").exists()

    response = client.post(
        reverse("tickets:settings-transitions"),
        {"new__open": "on", "open__solved": "on", "solved__closed": "on"},
    )
    assert response.status_code == 302
    assert set(StatusTransition.objects.values_list("from_status", "to_status")) == {
        ("new", "open"),
        ("open", "solved"),
        ("solved", "closed"),
    }
