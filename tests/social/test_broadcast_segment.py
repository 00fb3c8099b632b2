"""A broadcast's audience can be a customer segment: the preview, the sending and the compose page use it,
still leaving out unfollowers, customers without marketing consent and records merged away."""

import pytest
from django.core.exceptions import ValidationError

from customers.models import Customer, Segment, SegmentMember
from social import broadcasts
from social.models import Broadcast, BroadcastDelivery
from tests.social.test_broadcasts import draft, followers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.SOCIAL_BROADCAST_REQUESTS_PER_SECOND = 0


def static_segment(owner, customers, **kwargs):
    segment = Segment.objects.create(name="Autumn buyers", kind=Segment.Kind.STATIC, owner=owner, **kwargs)
    SegmentMember.objects.bulk_create([SegmentMember(segment=segment, customer=c) for c in customers])
    return segment


def test_a_segment_audience_previews_and_sends_only_to_its_consenting_followers(
    manager, line_channel, fake_line, django_capture_on_commit_callbacks
):
    members = followers(line_channel, 3, prefix="in")
    no_consent = followers(line_channel, 1, consent=False, prefix="nc")
    gone = followers(line_channel, 1, followed=False, prefix="gone")
    followers(line_channel, 4, prefix="outside")
    shell = followers(line_channel, 1, prefix="shell")[0]
    Customer.objects.filter(pk=shell.pk).update(merged_into=members[0])
    segment = static_segment(manager, [*members, *no_consent, *gone, shell])

    broadcast = draft(manager, line_channel, segment=segment)

    preview = broadcasts.broadcast_preview(broadcast)
    assert (preview.audience, preview.unfollowed, preview.no_consent, preview.recipients) == (5, 1, 1, 3)
    with django_capture_on_commit_callbacks(execute=True):
        broadcasts.broadcast_send(actor=manager, broadcast=broadcast)
    sent_to = set(BroadcastDelivery.objects.filter(broadcast=broadcast).values_list("customer_id", flat=True))
    assert sent_to == {c.pk for c in members}


def test_a_manager_picks_a_segment_on_the_compose_page_and_sees_it_on_the_draft(login, manager, line_channel):
    segment = static_segment(manager, followers(line_channel, 2, prefix="in"))
    followers(line_channel, 3, prefix="outside")
    client = login(manager)
    assert "Autumn buyers" in client.get("/broadcasts/new/").content.decode()
    response = client.post(
        "/broadcasts/new/",
        {
            "name": "Autumn sale",
            "channel": line_channel.pk,
            "segment": segment.pk,
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
    assert response.status_code == 302 and broadcast.segment == segment
    page = client.get(f"/broadcasts/{broadcast.pk}/").content.decode()
    assert 'data-testid="preview-recipients">2<' in page
    assert "Autumn buyers" in page


def test_another_users_private_segment_is_refused_and_nothing_saved(manager, admin_user, line_channel):
    private = static_segment(admin_user, followers(line_channel, 2))
    with pytest.raises(ValidationError) as exc:
        draft(manager, line_channel, segment=private)
    assert "segment" in exc.value.message_dict
    assert not Broadcast.objects.exists()


def test_deleting_the_segment_cancels_its_unsent_broadcast_instead_of_sending_to_everyone(
    manager, line_channel
):
    segment = static_segment(manager, followers(line_channel, 2))
    broadcast = draft(manager, line_channel, segment=segment)
    segment.delete()
    broadcast.refresh_from_db()
    assert broadcast.status == Broadcast.Status.CANCELLED
