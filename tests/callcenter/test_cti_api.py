import time

import pytest

from callcenter.models import Call, CtiEvent
from customers.models import Interaction
from tests.factories import CustomerFactory

from .conftest import event

pytestmark = pytest.mark.django_db


def test_a_signed_ringing_event_creates_the_call_matched_to_the_customer(post_event, agent, customer):
    response = post_event(event())

    assert response.status_code == 202
    call = Call.objects.get(call_id="c1")
    assert (call.state, call.customer, call.agent, call.from_number) == (
        "ringing",
        customer,
        agent,
        "+886912345678",
    )


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "sha256=" + "0" * 64},
        {"secret": "wrong-secret"},
        {"timestamp": -400},  # seconds from now, computed when the test runs (not at collection)
        {"timestamp": +400},
        {"timestamp": "yesterday"},
    ],
    ids=["forged", "wrong-secret", "stale", "future", "not-a-number"],
)
def test_bad_signatures_and_stale_timestamps_are_refused_and_nothing_is_stored(post_event, change):
    if isinstance(change.get("timestamp"), int):
        change = {"timestamp": str(int(time.time()) + change["timestamp"])}
    response = post_event(event(), **change)
    assert response.status_code == 401
    assert not CtiEvent.objects.exists() and not Call.objects.exists()


def test_a_tampered_body_fails_the_signature(post_event, client):
    import json

    from callcenter import signing

    timestamp = str(int(time.time()))
    signature = signing.sign("test-cti-secret", timestamp, json.dumps(event()).encode())
    tampered = json.dumps(event(**{"from": "0987-654-321"})).encode()
    response = post_event(None, raw=tampered, timestamp=timestamp, signature=signature)
    assert response.status_code == 401


def test_without_a_configured_secret_every_event_is_refused(post_event, settings):
    settings.CTI_SHARED_SECRET = ""
    assert post_event(event(), secret="").status_code == 401


def test_a_repeated_event_is_acknowledged_and_applied_once(post_event, customer, agent):
    post_event(event())
    post_event(event("c1", "answered", "2026-11-23T09:30:05+08:00"))
    post_event(event("c1", "ended", "2026-11-23T09:33:05+08:00"))
    again = post_event(event("c1", "ended", "2026-11-23T09:33:05+08:00"))

    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    assert CtiEvent.objects.count() == 3
    assert Interaction.objects.filter(customer=customer, kind="call").count() == 1


def test_events_out_of_order_still_give_the_right_call(post_event, customer, agent):
    post_event(event("c2", "ended", "2026-11-23T09:33:05+08:00"))
    post_event(event("c2", "ringing", "2026-11-23T09:30:00+08:00"))
    post_event(event("c2", "answered", "2026-11-23T09:30:05+08:00"))

    call = Call.objects.get(call_id="c2")
    assert call.state == "ended"
    assert (call.wait_seconds, call.talk_seconds) == (5, 180)
    (entry,) = Interaction.objects.filter(customer=customer, kind="call")
    assert entry.summary == "Inbound call, 3 min 00 s"
    assert entry.actor == agent and entry.data["talk_seconds"] == 180


def test_a_missed_inbound_call_asks_the_team_to_call_back(post_event, customer):
    post_event(event("c3"))
    post_event(event("c3", "missed", "2026-11-23T09:30:30+08:00"))

    call = Call.objects.get(call_id="c3")
    assert call.state == "missed" and call.wait_seconds == 30
    task = Interaction.objects.get(customer=customer, kind="task")
    assert task.summary == "Follow-up task: Call back after a missed call"
    assert task.data["team"] == customer.team_id and task.data["call_id"] == "c3"
    assert Interaction.objects.get(customer=customer, kind="call").summary == "Missed call"


def test_an_unknown_number_gives_a_call_without_customer(post_event):
    post_event(event("c4", **{"from": "0933-111-222"}))
    call = Call.objects.get(call_id="c4")
    assert call.customer is None and call.candidates == []


def test_a_number_shared_by_several_customers_lists_the_candidates(post_event, rep):
    first = CustomerFactory(owner=rep, phones=["0912-345-678"])
    second = CustomerFactory(owner=rep, phones=["+886 912 345 678"])
    post_event(event("c5"))
    call = Call.objects.get(call_id="c5")
    assert call.customer is None and sorted(call.candidates) == sorted([first.pk, second.pk])


def test_an_outbound_call_matches_the_number_called(post_event, customer, agent):
    post_event(event("c6", direction="outbound", **{"from": "101", "to": "+886912345678"}))
    assert Call.objects.get(call_id="c6").customer == customer


def test_a_transfer_moves_the_call_to_the_new_agent(post_event, customer, agent, rep):
    rep.extension = "102"
    rep.save()
    post_event(event("c7"))
    post_event(event("c7", "answered", "2026-11-23T09:30:05+08:00"))
    post_event(event("c7", "transferred", "2026-11-23T09:31:00+08:00", extension="102"))
    assert Call.objects.get(call_id="c7").agent == rep


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"event": "ringing", "occurred_at": "2026-11-23T09:30:00Z"}, "call_id"),
        ({"call_id": "x", "event": "exploded", "occurred_at": "2026-11-23T09:30:00Z"}, "event"),
        ({"call_id": "x", "event": "ringing", "occurred_at": "tomorrow"}, "occurred_at"),
        (
            {"call_id": "x", "event": "ringing", "occurred_at": "2026-11-23T09:30:00Z", "direction": "up"},
            "direction",
        ),
        ({"call_id": "x" * 200, "event": "ringing", "occurred_at": "2026-11-23T09:30:00Z"}, "call_id"),
        ({"call_id": ["x"], "event": "ringing", "occurred_at": "2026-11-23T09:30:00Z"}, "call_id"),
        (
            {"call_id": "x", "event": "ended", "occurred_at": "2026-11-23", "recording_url": "ftp://x"},
            "recording_url",
        ),
    ],
)
def test_malformed_events_get_a_400_naming_the_field(post_event, payload, field):
    response = post_event(payload)
    assert response.status_code == 400
    assert field in response.json()
    assert not CtiEvent.objects.exists()


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b"[" * 50000, b'"\\ud800"'])
def test_garbage_bodies_get_a_400(post_event, raw):
    assert post_event(None, raw=raw).status_code == 400


def test_call_api_returns_state_and_the_matched_customer(post_event, login, agent, customer):
    post_event(event("c8"))
    response = login(agent).get("/api/v1/calls/c8/")
    assert response.status_code == 200
    body = response.json()
    assert (body["state"], body["customer"], body["agent"]) == (
        "ringing",
        {"id": customer.pk, "name": "王小明"},
        "agent",
    )


def test_call_api_hides_calls_and_customers_that_are_not_yours(post_event, login, other_rep, customer):
    post_event(event("c9"))
    assert login(other_rep).get("/api/v1/calls/c9/").status_code == 404


def test_call_api_lists_candidates_when_several_customers_share_the_number(
    post_event, login, admin_user, rep
):
    CustomerFactory(name="甲", owner=rep, phones=["0912-345-678"])
    CustomerFactory(name="乙", owner=rep, phones=["0912345678"])
    admin_user.extension = "101"
    admin_user.save()
    post_event(event("c10"))
    body = login(admin_user).get("/api/v1/calls/c10/").json()
    assert body["customer"] is None
    assert sorted(c["name"] for c in body["candidates"]) == ["乙", "甲"]


def test_signature_window_is_five_minutes_either_way():
    from callcenter import signing

    body, sent = b"{}", "1000000"
    good = signing.sign("s", sent, body)
    assert signing.verify("s", sent, good, body, now=1000300) is None
    assert signing.verify("s", sent, good, body, now=999700) is None
    assert signing.verify("s", sent, good, body, now=1000301) == "X-CRM-Timestamp is more than 5 minutes off"


def test_the_timeline_never_shows_the_callers_number(post_event, customer):
    post_event(event("c11"))
    post_event(event("c11", "missed", "2026-11-23T09:30:30+08:00"))
    texts = " ".join(Interaction.objects.filter(customer=customer).values_list("summary", flat=True))
    assert "912" not in texts and "678" not in texts
