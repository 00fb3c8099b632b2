import asyncio
import queue

import pytest
from django.test import AsyncRequestFactory
from django.urls import reverse

from callcenter import selectors, views
from callcenter.models import AgentStatus, Call, Disposition
from customers import services as customer_services
from customers.models import Interaction
from sales.models import Task
from tests.factories import CustomerFactory, InteractionFactory, UserFactory
from tickets.models import Ticket

from .conftest import event

pytestmark = pytest.mark.django_db


def test_agent_sees_the_caller_card_while_the_phone_rings(post_event, listen, agent, customer, rep):
    InteractionFactory.create_batch(12, customer=customer, channel="line", summary="LINE 訊息")
    customer_services.note_add(customer=customer, actor=rep, text="Prefers afternoon calls")
    browser = listen(agent)

    post_event(event())

    name, html = browser.next()
    assert name == "call"
    assert "Incoming call" in html and "王小明" in html and "VIP" in html
    assert "+886 ••• ••• 678" in html, "an agent without the permission sees the number masked"
    assert "Prefers afternoon calls" in html
    assert html.count('<li class="d-flex gap-2 py-1">') == 10, "the last 10 interactions"


def test_the_card_opens_the_profile_for_an_agent_who_could_not_see_it_before(
    post_event, listen, login, agent, customer
):
    listen(agent)
    post_event(event())
    assert login(agent).get(reverse("customers:detail", args=[customer.pk])).status_code == 200


def test_a_rep_with_the_permission_sees_the_number_unmasked(post_event, listen, rep, customer):
    rep.extension = "201"
    rep.save()
    browser = listen(rep)
    post_event(event(extension="201"))
    assert "+886912345678" in browser.next()[1]


def test_an_unknown_caller_gets_a_new_customer_button_with_the_number(post_event, listen, agent):
    browser = listen(agent)
    post_event(event(**{"from": "0933-111-222"}))
    html = browser.next()[1]
    assert "No customer has this number." in html
    assert "/customers/new/?phone=%2B886933111222" in html


def test_several_matches_offer_a_short_list_and_the_agent_picks_one(post_event, listen, login, agent, rep):
    first = CustomerFactory(name="陳一", owner=rep, phones=["0912-345-678"])
    CustomerFactory(name="陳二", owner=rep, phones=["0912345678"])
    browser = listen(agent)
    post_event(event())
    html = browser.next()[1]
    assert "陳一" in html and "陳二" in html and "Who is calling?" in html

    call = Call.objects.get()
    response = login(agent).post(reverse("callcenter:set-customer", args=[call.pk]), {"customer": first.pk})
    assert response.status_code == 200 and "陳一" in response.content.decode()
    assert Call.objects.get().customer == first


def test_a_call_answered_elsewhere_closes_the_pop_for_the_other_agents(
    post_event, listen, agent, rep, customer
):
    rep.extension = "102"
    rep.save()
    first, second = listen(agent), listen(rep)
    post_event(event(extension="101,102"))
    assert "王小明" in first.next()[1] and "王小明" in second.next()[1]

    post_event(event("c1", "answered", "2026-11-23T09:30:04+08:00", extension="101"))

    assert "On the call" in first.next()[1]
    assert second.next() == ("call", "")


def test_reconnecting_while_the_phone_rings_shows_the_call_again(post_event, agent, customer):
    post_event(event())
    ((name, html),) = selectors.current_cards(agent)
    assert name == "call" and "王小明" in html and "Incoming call" in html


def test_an_ended_call_waits_for_wrap_up_after_a_reconnect_but_not_after_it(
    post_event, login, agent, customer
):
    post_event(event())
    post_event(event("c1", "answered", "2026-11-23T09:30:04+08:00"))
    post_event(event("c1", "ended", "2026-11-23T09:32:00+08:00"))
    Call.objects.update(ended_at=Call.objects.get().ended_at.replace(year=2099))
    assert "Save wrap-up" in selectors.current_cards(agent)[0][1]
    login(agent).post(reverse("callcenter:wrap-up", args=[Call.objects.get().pk]), {"note": ""})
    assert selectors.current_cards(agent) == []


def test_wrap_up_writes_the_note_and_opens_a_ticket_and_a_task(post_event, login, agent, customer):
    post_event(event())
    post_event(event("c1", "answered", "2026-11-23T09:30:04+08:00"))
    call = Call.objects.get()
    disposition = Disposition.objects.get(name="Needs follow-up")

    response = login(agent).post(
        reverse("callcenter:wrap-up", args=[call.pk]),
        {
            "disposition": disposition.pk,
            "note": "Order arrived damaged\nWants a refund",
            "create_ticket": "1",
            "create_task": "1",
        },
    )

    assert response.status_code == 200 and "Wrap-up saved." in response.content.decode()
    call.refresh_from_db()
    assert call.disposition == disposition and call.wrapped_up_at is not None
    kinds = dict(Interaction.objects.filter(customer=customer).values_list("kind", "summary"))
    assert kinds["note"] == "Order arrived damaged"
    ticket = Ticket.objects.get(customer=customer)
    assert (ticket.subject, ticket.source) == ("Order arrived damaged", "phone")
    assert kinds["ticket"] == f"Ticket #{ticket.number} opened: Order arrived damaged"
    task = Task.objects.get(customer=customer)
    assert (task.title, task.assignee) == ("Follow up on the call with 王小明", agent)


def test_wrap_up_refuses_a_call_still_ringing_and_other_peoples_calls(
    post_event, login, agent, other_rep, customer
):
    post_event(event())
    call = Call.objects.get()
    response = login(agent).post(reverse("callcenter:wrap-up", args=[call.pk]), {"note": "x"})
    assert "has not been answered yet" in response.content.decode()
    assert (
        login(other_rep).post(reverse("callcenter:wrap-up", args=[call.pk]), {"note": "x"}).status_code == 404
    )
    assert not Interaction.objects.filter(kind="note").exists()


def test_wrap_up_with_an_unknown_disposition_explains(post_event, login, agent, customer):
    post_event(event())
    post_event(event("c1", "answered", "2026-11-23T09:30:04+08:00"))
    call = Call.objects.get()
    response = login(agent).post(reverse("callcenter:wrap-up", args=[call.pk]), {"disposition": "999999"})
    assert "Choose a disposition from the list." in response.content.decode()


def test_the_calls_panel_on_the_360_page_lists_the_call(post_event, login, rep, customer, agent):
    post_event(event())
    post_event(event("c1", "answered", "2026-11-23T09:30:04+08:00"))
    post_event(event("c1", "ended", "2026-11-23T09:31:04+08:00"))
    body = login(rep).get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'data-testid="calls-panel"' in body and "60 s" in body


def test_agents_set_their_presence_and_managers_see_who_is_on_a_call(
    post_event, login, agent, manager, customer
):
    response = login(agent).post(reverse("callcenter:presence"), {"status": "available"})
    assert response.status_code == 200 and AgentStatus.objects.get(user=agent).status == "available"
    assert login(agent).post(reverse("callcenter:presence"), {"status": "sleeping"}).status_code == 400
    post_event(event())
    post_event(event("c1", "answered", "2026-11-23T09:30:04+08:00"))

    body = login(manager).get(reverse("callcenter:agents")).content.decode()
    assert "Available" in body and "In progress" in body and "王小明" in body
    assert login(agent).get(reverse("callcenter:agents")).status_code == 403


@pytest.mark.django_db(transaction=True)
def test_the_event_stream_sends_the_ringing_call_first_then_live_updates(
    seed_data, post_event, agent, customer
):
    from asgiref.sync import sync_to_async
    from django.db import connections

    post_event(event())

    async def first_chunks():
        request = AsyncRequestFactory().get("/callcenter/stream/")

        async def auser():
            return agent

        request.auser = auser
        response = await views.stream(request)
        chunks = response.streaming_content.__aiter__()
        received = [(await chunks.__anext__()).decode(), (await chunks.__anext__()).decode()]
        await chunks.aclose()
        await sync_to_async(connections.close_all)()
        return response, received

    response, (retry, card) = asyncio.run(first_chunks())
    assert response["Content-Type"] == "text/event-stream"
    assert retry == "retry: 2000\n\n"
    assert card.startswith("event: call\n") and "王小明" in card


def test_the_event_stream_requires_login():
    async def call():
        from django.contrib.auth.models import AnonymousUser

        request = AsyncRequestFactory().get("/callcenter/stream/")

        async def auser():
            return AnonymousUser()

        request.auser = auser
        return await views.stream(request)

    assert asyncio.run(call()).status_code == 401


def test_nothing_is_published_to_agents_the_call_does_not_concern(post_event, listen, team, customer):
    bystander = UserFactory(username="bystander", role="Agent", team=team, extension="555")
    browser = listen(bystander)
    post_event(event())
    with pytest.raises(queue.Empty):
        browser.next(timeout=0.3)
