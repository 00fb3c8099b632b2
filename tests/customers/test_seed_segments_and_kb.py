"""The demo's segments, knowledge-base articles and canned replies: created once, usable, never twice."""

import io

import pytest
from django.core.management import call_command

from customers import selectors
from customers.models import Segment, SegmentMember
from tickets.models import Article, CannedReply

pytestmark = pytest.mark.django_db


def run(command) -> str:
    out = io.StringIO()
    call_command(command, stdout=out)
    return out.getvalue()


def test_demo_segments_and_articles_are_seeded_once_and_work():
    run("seed_demo")
    first = run("seed_segments_demo") + run("seed_kb_demo")
    counts = (
        Segment.objects.count(),
        SegmentMember.objects.count(),
        Article.objects.count(),
        CannedReply.objects.count(),
    )
    run("seed_segments_demo")
    run("seed_kb_demo")
    assert counts == (
        Segment.objects.count(),
        SegmentMember.objects.count(),
        Article.objects.count(),
        CannedReply.objects.count(),
    )
    assert counts[0] == 4 and counts[1] == 6 and counts[2] == 5 and counts[3] == 3
    assert "VIP 行銷同意" in first
    assert Article.objects.filter(status=Article.Status.PUBLISHED).count() == 4
    for segment in Segment.objects.all():
        assert selectors.segment_count(segment=segment) >= 0


def test_seeding_without_the_demo_users_says_what_to_do():
    assert "seed_demo first" in run("seed_segments_demo")
    assert "seed_demo first" in run("seed_kb_demo")
