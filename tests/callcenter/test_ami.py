import logging
import os
import signal
import threading

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from callcenter.ami import (
    AmiListener,
    AmiLoginError,
    AsteriskCtiAdapter,
    CallTracker,
    backoff_delay,
    extension_of,
)
from callcenter.models import Call, CtiEvent
from customers.models import Interaction

from .fake_ami import FakeAmi, Session, inbound_call, outbound_call

pytestmark = pytest.mark.django_db

SECRET = "ami-secret"


@pytest.fixture
def pbx():
    with FakeAmi(username="crm", secret=SECRET) as fake:
        yield fake


def tracker(**options):
    return CallTracker(inbound_contexts=["from-trunk", "from-pstn"], extension_pattern=r"\d{2,6}", **options)


def follow(port, *, sessions=1, secret=SECRET):
    """Run the adapter in the test's thread (it shares the test's database transaction) until the fake
    PBX has played `sessions` sessions and hung up; give up after 10 s rather than hang."""
    stop = threading.Event()
    guard = threading.Timer(10, stop.set)
    guard.start()
    listener = AmiListener(
        host="127.0.0.1",
        port=port,
        username="crm",
        secret=secret,
        on_event=AsteriskCtiAdapter(tracker()),
        backoff_initial=0.01,
        backoff_max=0.05,
        poll=0.1,
    )
    try:
        listener.run(stop=stop, max_sessions=sessions)
    finally:
        guard.cancel()
    assert not stop.is_set(), "the adapter did not get through the PBX's sessions within 10 s"
    return listener


def run_command(pbx, *, secret=SECRET):
    call_command("cti_asterisk", host="127.0.0.1", port=pbx.port, username="crm", secret=secret, once=True)


def test_a_refused_login_stops_the_adapter_with_the_reason_and_never_logs_the_secret(pbx, caplog):
    caplog.set_level(logging.DEBUG)

    with pytest.raises(CommandError, match="Authentication failed"):
        run_command(pbx, secret="not-the-Secret-4711")

    assert pbx.failed_logins == 1, "a wrong secret is not retried"
    assert "not-the-Secret-4711" not in caplog.text
    assert "refused the login" in caplog.text


def test_an_inbound_call_answered_by_101_is_an_ended_call_with_agent_customer_and_talk_time(
    pbx, agent, customer, listen, django_capture_on_commit_callbacks
):
    browser = listen(agent)
    pbx.plan(Session(inbound_call(caller="0912345678", extension="101", answer_after=5, talk=180)))

    with django_capture_on_commit_callbacks(execute=True):
        run_command(pbx)

    call = Call.objects.get(call_id="1763861400.10")
    assert (call.state, call.direction, call.agent, call.customer, call.extension) == (
        "ended",
        "inbound",
        agent,
        customer,
        "101",
    )
    assert (call.from_number, call.to_number) == ("+886912345678", "+886223456789")
    assert (call.wait_seconds, call.talk_seconds) == (5, 180)
    (entry,) = Interaction.objects.filter(customer=customer, kind="call")
    assert entry.summary == "Inbound call, 3 min 00 s" and entry.actor == agent
    assert sorted(CtiEvent.objects.values_list("event", "source")) == [
        ("answered", "ami"),
        ("ended", "ami"),
        ("ringing", "ami"),
    ]
    name, html = browser.next()
    assert name == "call" and "王小明" in html, "the agent's screen pops like for the HTTP API"


def test_sigterm_stops_the_adapter_cleanly_with_a_logoff(pbx):
    pbx.plan(Session(hang_up=False))
    previous = signal.getsignal(signal.SIGTERM)

    def terminate_once_logged_in():
        pbx.wait_for(lambda: pbx.logins == 1)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_logged_in)
    killer.start()
    run_command(pbx)
    killer.join(5)

    assert pbx.wait_for(lambda: [a["Action"] for a in pbx.actions] == ["Login", "Logoff"])
    assert signal.getsignal(signal.SIGTERM) == previous, "the previous handler is back"


def test_an_unanswered_inbound_call_is_missed_and_asks_for_a_call_back(pbx, agent, customer):
    pbx.plan(Session(inbound_call(answered=False, answer_after=20)))

    follow(pbx.port)

    call = Call.objects.get()
    assert (call.state, call.agent, call.wait_seconds, call.talk_seconds) == ("missed", agent, 20, None)
    assert Interaction.objects.get(customer=customer, kind="call").summary == "Missed call"
    assert Interaction.objects.filter(customer=customer, kind="task").count() == 1


def test_the_adapter_reconnects_after_the_pbx_drops_the_connection_mid_call(pbx, agent, customer):
    events = inbound_call()
    pbx.plan(Session(events[:4]), Session(events[4:]))  # dropped right after DialBegin

    listener = follow(pbx.port, sessions=2)

    assert listener.sessions == 2 and pbx.logins == 2
    call = Call.objects.get()
    assert (call.state, call.agent, call.talk_seconds) == ("ended", agent, 180)


def test_the_adapter_keeps_trying_until_the_pbx_is_back(agent, customer):
    with FakeAmi(secret=SECRET) as probe:
        port = probe.port  # nothing listens there once the probe is closed
    back = []

    def pbx_back():
        pbx = FakeAmi(secret=SECRET, port=port)
        pbx.plan(Session(inbound_call()))
        back.append(pbx.__enter__())

    restart = threading.Timer(0.3, pbx_back)
    restart.start()
    try:
        follow(port)
    finally:
        restart.cancel()
        for pbx in back:
            pbx.__exit__(None, None, None)

    assert Call.objects.get().state == "ended"


def test_repeated_events_change_nothing(pbx, agent, customer):
    events = inbound_call()
    doubled = [event for event in events for _ in range(2)]
    pbx.plan(Session(doubled + events))

    follow(pbx.port)

    assert Call.objects.get().state == "ended"
    assert CtiEvent.objects.count() == 3
    assert Interaction.objects.filter(customer=customer, kind="call").count() == 1


def test_an_agent_dialling_a_customer_is_an_outbound_call_matched_by_the_number_called(pbx, agent, customer):
    pbx.plan(Session(outbound_call(extension="101", number="0912345678", answer_after=8, talk=60)))

    follow(pbx.port)

    call = Call.objects.get(call_id="1763865000.30")
    assert (call.direction, call.state, call.agent, call.customer) == ("outbound", "ended", agent, customer)
    assert (call.wait_seconds, call.talk_seconds) == (8, 60)
    assert Interaction.objects.get(customer=customer, kind="call").summary == ("Outbound call, 1 min 00 s")


def test_calls_between_extensions_and_calls_that_never_ring_an_agent_are_not_reported():
    follower = tracker()
    internal = outbound_call(number="102")
    ivr_only = [
        event for event in inbound_call(linkedid="1763870000.50") if event["Uniqueid"] == "1763870000.50"
    ]
    ivr_only = [event for event in ivr_only if event["Event"] in ("Newchannel", "Newstate", "Hangup")]

    assert [payload for event in internal + ivr_only for payload in follower.feed(event)] == []
    assert not follower.calls, "both calls are forgotten at their hangup"


def test_the_tracker_maps_a_call_to_http_api_payloads_and_forgets_it_after_the_hangup():
    follower = tracker()
    payloads = [payload for event in inbound_call() for payload in follower.feed(event)]

    assert [(p["event"], p["extension"], p["from"], p["to"]) for p in payloads] == [
        ("ringing", "101", "0912345678", "0223456789"),
        ("answered", "101", "0912345678", "0223456789"),
        ("ended", "101", "0912345678", "0223456789"),
    ]
    assert payloads[0]["occurred_at"] == "2025-11-23T01:30:00+00:00"
    assert {p["call_id"] for p in payloads} == {"1763861400.10"} and not follower.calls
    assert [p for event in inbound_call() for p in follower.feed(event)] == [], "a replay after the end"


def test_the_tracker_follows_a_bounded_number_of_calls_for_a_bounded_time():
    now = [0.0]
    follower = tracker(max_calls=2, max_age=60, clock=lambda: now[0])
    for index in range(3):
        follower.feed(inbound_call(linkedid=f"1763861400.{index * 10}")[0])
    assert list(follower.calls) == ["1763861400.10", "1763861400.20"]

    now[0] = 61
    follower.feed({"Event": "Newstate", "Linkedid": "x", "Uniqueid": "y"})
    assert not follower.calls


@pytest.mark.parametrize(
    "channel, extension",
    [
        ("PJSIP/101-0000002a", "101"),
        ("SIP/2001-00000001", "2001"),
        ("Local/101@from-queue-00000005;1", "101"),
        ("PJSIP/hinet-trunk-0000001a", ""),
        ("PJSIP/0223456789-0000001a", ""),
        ("", ""),
    ],
)
def test_an_agent_phone_is_recognised_by_its_channel_name(channel, extension):
    import re

    assert extension_of(channel, re.compile(r"\d{2,6}")) == extension


def test_a_wrong_secret_raises_for_callers_of_the_listener(pbx):
    with pytest.raises(AmiLoginError):
        follow(pbx.port, secret="wrong")


def test_the_back_off_doubles_up_to_a_cap_with_jitter():
    delays = [backoff_delay(failures, initial=1, maximum=60) for failures in range(1, 12)]
    ceilings = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]
    assert all(ceiling / 2 <= delay <= ceiling for delay, ceiling in zip(delays, ceilings, strict=True))
