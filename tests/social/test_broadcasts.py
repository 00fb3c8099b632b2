"""Broadcasts: who receives them, batches of 500 with retry keys, retries, pause/cancel, A/B variants,
scheduling, the timeline, and who may send them."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from customers.models import Consent, Customer, Interaction, SocialIdentity, Tag
from social import broadcast_sending, broadcasts
from social.broadcasts import VariantInput
from social.models import Broadcast, BroadcastDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.SOCIAL_BROADCAST_REQUESTS_PER_SECOND = 0


def followers(channel, count, *, tag=None, consent=True, followed=True, prefix="F", lifecycle="lead"):
    """`count` customers following `channel`, tagged `tag`, with marketing consent as given (None: none)."""
    customers = Customer.objects.bulk_create(
        [Customer(name=f"{prefix}{index}", lifecycle_stage=lifecycle) for index in range(count)]
    )
    SocialIdentity.objects.bulk_create(
        [
            SocialIdentity(
                customer=customer,
                provider=channel.kind,
                channel=str(channel.pk),
                external_id=f"U{prefix}{customer.pk:030d}",
                display_name=customer.name,
                followed=followed,
            )
            for customer in customers
        ]
    )
    if tag is not None:
        Customer.tags.through.objects.bulk_create(
            [Customer.tags.through(customer_id=c.pk, tag_id=tag.pk) for c in customers]
        )
    if consent is not None:
        Consent.objects.bulk_create(
            [Consent(customer=c, purpose="marketing", channel="any", granted=consent) for c in customers]
        )
    return customers


@pytest.fixture
def vip():
    return Tag.objects.create(name="VIP")


def draft(manager, channel, *, tags=(), variants=None, **kwargs):
    return broadcasts.broadcast_create(
        actor=manager,
        name="Autumn sale",
        channel=channel,
        tags=tags,
        variants=variants or [VariantInput(text="秋季特賣 8 折")],
        **kwargs,
    )


def test_the_preview_leaves_out_unfollowers_and_those_without_marketing_consent(manager, line_channel, vip):
    followers(line_channel, 5, tag=vip, prefix="ok")
    followers(line_channel, 2, tag=vip, consent=False, prefix="no")
    followers(line_channel, 1, tag=vip, consent=None, prefix="never")
    followers(line_channel, 3, tag=vip, followed=False, prefix="gone")
    followers(line_channel, 4, prefix="untagged")
    withdrawn = followers(line_channel, 1, tag=vip, prefix="withdrew")[0]
    Consent.objects.create(
        customer=withdrawn, purpose="marketing", channel="line", granted=False, occurred_at=timezone.now()
    )
    preview = broadcasts.broadcast_preview(draft(manager, line_channel, tags=[vip]))
    assert (
        preview.audience,
        preview.followers,
        preview.unfollowed,
        preview.no_consent,
        preview.recipients,
    ) == (
        12,
        9,
        3,
        4,
        5,
    )


def test_all_of_several_tags_and_a_lifecycle_stage_narrow_the_audience(manager, line_channel, vip):
    gold = Tag.objects.create(name="Gold")
    both = followers(line_channel, 2, tag=vip, prefix="both", lifecycle="customer")
    for customer in both:
        customer.tags.add(gold)
    followers(line_channel, 3, tag=vip, prefix="vip-only", lifecycle="customer")
    broadcast = draft(manager, line_channel, tags=[vip, gold], tag_match="all", lifecycle_stage="customer")
    assert broadcasts.broadcast_preview(broadcast).recipients == 2
    assert set(broadcasts.broadcast_audience(broadcast)) == set(both)


def test_sending_goes_in_batches_of_500_with_one_retry_key_each_and_lands_on_every_timeline(
    manager, line_channel, fake_line, vip, django_capture_on_commit_callbacks
):
    customers = followers(line_channel, 1201, tag=vip)
    broadcast = draft(manager, line_channel, tags=[vip])
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_send(broadcast=broadcast, actor=manager)
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.DONE
    assert (broadcast.total, broadcast.sent_count, broadcast.failed_count) == (1201, 1201, 0)
    calls = fake_line.calls("/multicast")
    assert [len(c.json()["to"]) for c in calls] == [500, 500, 201]
    assert len({c.headers["x-line-retry-key"] for c in calls}) == 3
    assert calls[0].json()["messages"] == [{"type": "text", "text": "秋季特賣 8 折"}]
    sent_to = {user_id for c in calls for user_id in c.json()["to"]}
    assert len(sent_to) == 1201
    assert BroadcastDelivery.objects.filter(broadcast=broadcast, status="sent").count() == 1201
    entries = Interaction.objects.filter(kind=Interaction.Kind.BROADCAST)
    assert entries.count() == 1201
    assert entries.filter(customer=customers[0], summary="Broadcast received: Autumn sale").exists()


def test_too_many_requests_and_server_errors_are_retried_with_the_same_key(
    manager, line_channel, fake_line, vip, django_capture_on_commit_callbacks
):
    followers(line_channel, 3, tag=vip)
    fake_line.fail_next(429, retry_after=0)
    fake_line.fail_next(503)
    broadcast = draft(manager, line_channel, tags=[vip])
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_send(broadcast=broadcast, actor=manager)
    broadcast.refresh_from_db()
    calls = fake_line.calls("/multicast")
    assert len(calls) == 3 and len({c.headers["x-line-retry-key"] for c in calls}) == 1
    assert (broadcast.status, broadcast.sent_count, broadcast.failed_count) == ("done", 3, 0)


def test_a_refused_batch_is_recorded_as_failed_with_the_reason(
    manager, line_channel, fake_line, vip, django_capture_on_commit_callbacks
):
    followers(line_channel, 3, tag=vip)
    fake_line.fail_next(400)
    broadcast = draft(manager, line_channel, tags=[vip])
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_send(broadcast=broadcast, actor=manager)
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent_count, broadcast.failed_count) == ("done", 0, 3)
    assert "HTTP 400" in broadcast.error
    assert set(BroadcastDelivery.objects.values_list("error", flat=True)) == {broadcast.error}
    assert not Interaction.objects.filter(kind=Interaction.Kind.BROADCAST).exists()


def test_pausing_stops_between_batches_and_resuming_sends_the_rest_once(
    manager, line_channel, fake_line, vip, monkeypatch, django_capture_on_commit_callbacks
):
    followers(line_channel, 1100, tag=vip)
    broadcast = draft(manager, line_channel, tags=[vip])
    real_batch_done = broadcast_sending._batch_done

    def pause_after_first_batch(*args):
        real_batch_done(*args)
        if not Broadcast.objects.filter(pk=broadcast.pk, status="paused").exists():
            broadcasts.broadcast_pause(broadcast=broadcast, actor=manager)
        monkeypatch.setattr(broadcast_sending, "_batch_done", real_batch_done)

    monkeypatch.setattr(broadcast_sending, "_batch_done", pause_after_first_batch)
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_send(broadcast=broadcast, actor=manager)
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent_count) == ("paused", 500)
    assert len(fake_line.calls("/multicast")) == 1
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_resume(broadcast=broadcast, actor=manager)
    broadcast.refresh_from_db()
    assert (broadcast.status, broadcast.sent_count) == ("done", 1100)
    assert len({u for c in fake_line.calls("/multicast") for u in c.json()["to"]}) == 1100


def test_a_cancelled_broadcast_sends_nothing_more(manager, line_channel, fake_line, vip):
    followers(line_channel, 3, tag=vip)
    broadcast = draft(manager, line_channel, tags=[vip])
    broadcasts.broadcast_send(broadcast=broadcast, actor=manager, at=timezone.now() + dt.timedelta(hours=1))
    broadcasts.broadcast_cancel(broadcast=broadcast, actor=manager)
    assert broadcasts.broadcasts_start_due(now=timezone.now() + dt.timedelta(hours=2)) == 0
    assert broadcast_sending.broadcast_run(broadcast_id=broadcast.pk) == "stopped"
    assert fake_line.calls() == []
    with pytest.raises(ValidationError):
        broadcasts.broadcast_send(broadcast=broadcast, actor=manager)


def test_a_scheduled_broadcast_starts_when_its_time_comes(
    manager, line_channel, fake_line, vip, django_capture_on_commit_callbacks
):
    followers(line_channel, 2, tag=vip)
    broadcast = draft(manager, line_channel, tags=[vip])
    at = timezone.now() + dt.timedelta(hours=1)
    broadcasts.broadcast_send(broadcast=broadcast, actor=manager, at=at)
    assert broadcasts.broadcasts_start_due(now=at - dt.timedelta(minutes=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert broadcasts.broadcasts_start_due(now=at) == 1
    broadcast.refresh_from_db()
    assert broadcast.status == "done" and broadcast.sent_count == 2


def test_ab_variants_split_the_recipients_by_their_shares(
    manager, line_channel, fake_line, vip, django_capture_on_commit_callbacks
):
    followers(line_channel, 400, tag=vip)
    flex = '{"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": []}}'
    broadcast = draft(
        manager,
        line_channel,
        tags=[vip],
        variants=[
            VariantInput(label="A", percent=30, text="Plain text"),
            VariantInput(label="B", percent=70, kind="flex", flex=flex, alt_text="Sale!"),
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_send(broadcast=broadcast, actor=manager)
    a, b = broadcast.variants.order_by("label")
    assert a.sent_count + b.sent_count == 400
    assert 80 <= a.sent_count <= 160, a.sent_count
    kinds = [c.json()["messages"][0]["type"] for c in fake_line.calls("/multicast")]
    assert sorted(kinds) == ["flex", "text"]
    flex_call = next(c for c in fake_line.calls("/multicast") if c.json()["messages"][0]["type"] == "flex")
    assert flex_call.json()["messages"][0]["altText"] == "Sale!"


def test_bad_compositions_get_clear_messages_and_save_nothing(manager, line_channel):
    cases = [
        ([VariantInput(text="")], "has no text"),
        (
            [VariantInput(percent=60, text="a"), VariantInput(label="B", percent=30, text="b")],
            "add up to 100%",
        ),
        ([VariantInput(kind="flex", flex="{not json", alt_text="x")], "not valid JSON"),
        ([VariantInput(kind="flex", flex='{"type": "text"}', alt_text="x")], "bubble"),
        (
            [VariantInput(label="A", percent=50, text="a"), VariantInput(label="A", percent=50, text="b")],
            "own label",
        ),
    ]
    for variants, message in cases:
        with pytest.raises(ValidationError) as exc:
            draft(manager, line_channel, variants=variants)
        assert message in str(exc.value), message
    assert not Broadcast.objects.exists()


def test_only_managers_and_admins_send_broadcasts(login, agent, rep, manager, line_channel):
    for user in (agent, rep):
        assert login(user).get("/broadcasts/").status_code == 403
        with pytest.raises(PermissionDenied):
            draft(user, line_channel)
    assert login(manager).get("/broadcasts/").status_code == 200


def test_a_manager_composes_previews_and_sends_from_the_pages(
    login, manager, line_channel, fake_line, vip, django_capture_on_commit_callbacks
):
    followers(line_channel, 3, tag=vip)
    client = login(manager)
    assert client.get("/broadcasts/new/").status_code == 200
    response = client.post(
        "/broadcasts/new/",
        {
            "name": "Autumn sale",
            "channel": line_channel.pk,
            "tags": [vip.pk],
            "tag_match": "any",
            "lifecycle_stage": "",
            "variant-TOTAL_FORMS": "1",
            "variant-INITIAL_FORMS": "0",
            "variant-MIN_NUM_FORMS": "1",
            "variant-MAX_NUM_FORMS": "5",
            "variant-0-label": "A",
            "variant-0-percent": "100",
            "variant-0-kind": "text",
            "variant-0-text": "秋季特賣",
        },
    )
    broadcast = Broadcast.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/broadcasts/{broadcast.pk}/"
    page = client.get(f"/broadcasts/{broadcast.pk}/").content.decode()
    assert 'data-testid="preview-recipients">3<' in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/broadcasts/{broadcast.pk}/send/", {"send_at": ""})
    broadcast.refresh_from_db()
    assert broadcast.status == "done" and broadcast.sent_count == 3
    page = client.get(f"/broadcasts/{broadcast.pk}/").content.decode()
    assert 'data-testid="broadcast-sent">3<' in page
    assert client.post(f"/broadcasts/{broadcast.pk}/explode/").status_code == 302


def test_the_broadcast_list_costs_the_same_queries_however_many(
    login, manager, line_channel, django_assert_max_num_queries
):
    client = login(manager)
    for index in range(5):
        draft(manager, line_channel, variants=[VariantInput(text=f"hi {index}")])
    client.get("/broadcasts/")
    with django_assert_max_num_queries(8):
        client.get("/broadcasts/")


def test_adding_an_ab_variant_shows_one_more_message_and_saves_nothing(login, manager, line_channel):
    response = login(manager).post(
        "/broadcasts/new/?add=1",
        {
            "name": "AB",
            "channel": line_channel.pk,
            "tag_match": "any",
            "variant-TOTAL_FORMS": ["1", "2"],
            "variant-INITIAL_FORMS": "0",
            "variant-MIN_NUM_FORMS": "1",
            "variant-MAX_NUM_FORMS": "5",
            "variant-0-label": "A",
            "variant-0-percent": "50",
            "variant-0-kind": "text",
            "variant-0-text": "Version A",
        },
    )
    page = response.content.decode()
    assert page.count('data-testid="variant"') == 2 and "Version A" in page
    assert 'action="/broadcasts/new/"' in page
    assert not Broadcast.objects.exists()


def test_the_rate_limit_spaces_requests_evenly(monkeypatch):
    clock = {"now": 1000.0}
    slept = []
    monkeypatch.setattr(broadcast_sending.time, "monotonic", lambda: clock["now"])

    def sleep(seconds):
        slept.append(seconds)
        clock["now"] += seconds

    monkeypatch.setattr(broadcast_sending.time, "sleep", sleep)
    limiter = broadcast_sending._RateLimiter(100)
    for _ in range(11):
        limiter.wait()
    assert clock["now"] - 1000.0 == pytest.approx(0.1)
    assert len(slept) == 10
    unlimited = broadcast_sending._RateLimiter(0)
    unlimited.wait()
    assert len(slept) == 10
