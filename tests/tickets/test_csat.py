"""Satisfaction surveys: sent once when a ticket is solved, answered without logging in through a signed,
expiring link (tampering and expiry refused kindly), shown on the ticket and in the CSAT report."""

import datetime as dt

import pytest
from django.core import mail, signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tickets import csat
from tickets.models import CsatSurvey, Ticket
from tickets.services import ticket_create, ticket_set_status

pytestmark = pytest.mark.django_db


@pytest.fixture
def solve(django_capture_on_commit_callbacks):
    def run(ticket, actor):
        with django_capture_on_commit_callbacks(execute=True):
            ticket_set_status(ticket=ticket, actor=actor, status=Ticket.Status.SOLVED)
        return CsatSurvey.objects.filter(ticket=ticket).order_by("-id").first()

    return run


@pytest.fixture
def ticket(customer, manager):
    return ticket_create(actor=None, customer=customer, subject="Refund please", assignee=manager)


def _links(message) -> list[str]:
    return [
        line.split(": ", 1)[1]
        for line in message.body.splitlines()
        if line[:2] in {f"{n}:" for n in range(1, 6)}
    ]


def test_solving_a_ticket_emails_the_customer_a_survey_with_five_one_click_links(ticket, manager, solve):
    survey = solve(ticket, manager)

    assert survey is not None and survey.channel == CsatSurvey.Channel.EMAIL
    assert (survey.agent, survey.team) == (manager, ticket.team)
    [message] = mail.outbox
    assert message.to == ["wang@example.com"]
    links = _links(message)
    assert len(links) == 5 and links[3].endswith("?rating=4")
    assert message.alternatives and "rating=5" in message.alternatives[0][0]


def test_solving_again_after_a_reopen_sends_a_new_survey_but_a_redelivery_sends_none(ticket, manager, solve):
    first = solve(ticket, manager)
    assert csat.csat_send(ticket_id=ticket.pk) is None  # the task delivered twice
    ticket_set_status(ticket=ticket, actor=manager, status=Ticket.Status.OPEN)
    second = solve(ticket, manager)

    assert second != first and len(mail.outbox) == 2


def test_a_customer_without_email_gets_no_survey_and_another_channel_can_deliver_it(
    ticket, manager, solve, monkeypatch
):
    ticket.customer.contact_points.filter(kind="email").delete()
    assert solve(ticket, manager) is None

    ticket_set_status(ticket=ticket, actor=manager, status=Ticket.Status.OPEN)
    delivered = []
    monkeypatch.setattr(csat, "csat_channels", list(csat.csat_channels))
    csat.register_channel(csat.CsatChannel("line", lambda survey: delivered.append(survey) or True, order=10))
    survey = solve(ticket, manager)

    assert survey.channel == CsatSurvey.Channel.LINE and delivered == [survey]


def test_the_link_shows_the_chosen_rating_and_only_a_post_records_it(ticket, manager, solve):
    survey = solve(ticket, manager)
    url = _links(mail.outbox[0])[3]
    client = Client()

    page = client.get(url)
    assert page.status_code == 200
    assert 'value="4" autocomplete="off" checked' in page.content.decode()
    survey.refresh_from_db()
    assert survey.answered_at is None  # a mail scanner following the link changes nothing

    done = client.post(url, {"rating": "4", "comment": "Quick and friendly."})
    assert done.status_code == 200 and "You rated us 4 of 5." in done.content.decode()
    survey.refresh_from_db()
    assert (survey.rating, survey.comment) == (4, "Quick and friendly.")
    assert ticket.customer.interactions.filter(data__event="csat", data__rating=4).exists()


def test_a_second_answer_within_the_validity_replaces_the_first(ticket, manager, solve):
    survey = solve(ticket, manager)
    url = csat.survey_url(survey)
    client = Client()
    client.post(url, {"rating": "2"})
    client.post(url, {"rating": "5", "comment": "Sorted after all"})

    survey.refresh_from_db()
    assert (survey.rating, survey.comment) == (5, "Sorted after all")
    assert "You can change it" in client.get(url).content.decode()


@pytest.mark.parametrize("rating", ["0", "6", "abc", ""])
def test_a_rating_outside_one_to_five_is_refused_with_a_message(ticket, manager, solve, rating):
    survey = solve(ticket, manager)

    response = Client().post(csat.survey_url(survey), {"rating": rating})

    assert response.status_code == 400 and "Choose a rating from 1 to 5." in response.content.decode()
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_a_tampered_link_is_refused_with_400(ticket, manager, solve):
    survey = solve(ticket, manager)
    token = csat.survey_token(survey)
    forged = signing.dumps({"n": survey.nonce}, salt="another.salt")

    for bad in (token[:-2] + "xx", forged, "1", token.replace(":", "")):
        response = Client().post(reverse("tickets:csat", args=[bad]), {"rating": "1"})
        assert response.status_code == 400, bad
        assert "This link is not valid" in response.content.decode()
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_an_expired_link_shows_a_friendly_page(ticket, manager, solve, settings, monkeypatch):
    settings.TICKETS_CSAT_MAX_AGE_DAYS = 14
    survey = solve(ticket, manager)
    url = csat.survey_url(survey, 5)
    later = time_now = timezone.now() + dt.timedelta(days=15)
    monkeypatch.setattr(signing.time, "time", lambda: later.timestamp())
    monkeypatch.setattr(timezone, "now", lambda: time_now)

    response = Client().post(url, {"rating": "5"})

    assert response.status_code == 410 and "This survey has expired" in response.content.decode()
    survey.refresh_from_db()
    assert survey.answered_at is None


def test_the_survey_speaks_the_customers_language_or_the_browsers(ticket, manager, solve):
    survey = solve(ticket, manager)
    url = csat.survey_url(survey)

    page = Client().get(url, HTTP_ACCEPT_LANGUAGE="zh-Hant")
    assert '<html lang="zh-hant">' in page.content.decode()
    ticket.customer.custom_attributes = {"language": "zh-hans"}
    ticket.customer.save()
    page = Client().get(url, HTTP_ACCEPT_LANGUAGE="en")
    assert '<html lang="zh-hans">' in page.content.decode()


def test_the_result_shows_on_the_ticket_page(ticket, manager, solve, login):
    survey = solve(ticket, manager)
    csat.csat_answer(survey=survey, rating=5, comment="Great service")

    page = login(manager).get(reverse("tickets:detail", args=[ticket.pk]))

    body = page.content.decode()
    assert 'data-testid="ticket-csat"' in body and "5 of 5" in body and "Great service" in body


def test_the_report_gives_average_distribution_and_response_rate_by_team_agent_and_month(
    customer, manager, admin_user, solve, login, django_assert_max_num_queries
):
    ratings = [5, 4, None, 2]
    for rating in ratings:
        ticket = ticket_create(actor=None, customer=customer, subject="Question", assignee=manager)
        survey = solve(ticket, manager)
        if rating:
            csat.csat_answer(survey=survey, rating=rating)

    client = login(manager)
    with django_assert_max_num_queries(17):  # whatever the number of surveys
        response = client.get(reverse("tickets:csat-report"))

    assert response.status_code == 200
    total = response.context["total"]
    assert (total.sent, total.answered, round(total.average, 2)) == (4, 3, 3.67)
    assert total.distribution == [0, 1, 0, 1, 1]
    assert [row.label for row in response.context["by_agent"]] == [
        manager.get_full_name() or manager.username
    ]
    assert len(response.context["by_month"]) == 1


def test_agents_may_not_open_the_report(agent, login):
    assert login(agent).get(reverse("tickets:csat-report")).status_code == 403


def test_the_report_counts_only_tickets_the_manager_may_see(customer, manager, other_team, solve, login):
    from crm import roles
    from tests.factories import UserFactory

    outsider = UserFactory(username="boss2", role=roles.MANAGER, team=other_team)
    ticket = ticket_create(actor=None, customer=customer, subject="Mine", assignee=manager)
    solve(ticket, manager)

    response = login(outsider).get(reverse("tickets:csat-report"))

    assert response.context["total"].sent == 0
