"""Broadcast preview (audience, followers, consent counts) with a tag audience against a segment audience.

    .venv/bin/python bench/broadcast_segment.py [--database-url URL] [--recipients 20000] [--iterations 30]

Builds (or reuses) the followers of bench/broadcast.py, a dynamic segment matching the same tag and a
static segment listing half of them, then times broadcast_preview() for each audience in turns. The
tag audience is the baseline: a segment should cost about the same.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.broadcast import DEFAULT_DATABASE_URL, ensure_audience, pct  # noqa: E402
from bench.harness import create_database_if_missing  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--iterations", type=int, default=30)
    args = parser.parse_args()
    create_database_if_missing(args.database_url)
    os.environ.update(
        DATABASE_URL=args.database_url, REDIS_URL="", DEBUG="0", DJANGO_SETTINGS_MODULE="crm.settings"
    )
    import django

    django.setup()
    from django.core.management import call_command

    from customers.models import Customer, Segment, SegmentMember
    from social import broadcasts
    from social.models import Broadcast, BroadcastVariant

    call_command("migrate", verbosity=0)
    channel, tag = ensure_audience(args.recipients)
    dynamic, _ = Segment.objects.get_or_create(
        name="bench-broadcast dynamic",
        defaults={"rules": {"match": "all", "rules": [{"field": "tags", "op": "any_of", "value": [tag.pk]}]}},
    )
    static, created = Segment.objects.get_or_create(name="bench-broadcast static", kind=Segment.Kind.STATIC)
    if created:
        ids = Customer.objects.filter(tags=tag).order_by("pk").values_list("pk", flat=True)[::2]
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment=static, customer_id=pk) for pk in ids], batch_size=5000
        )
    audiences = {}
    for label, segment in (
        ("tag (baseline)", None),
        ("dynamic segment", dynamic),
        ("static segment", static),
    ):
        broadcast = Broadcast.objects.create(name=f"bench {label}", channel=channel, segment=segment)
        if segment is None:
            broadcast.tags.add(tag)
        BroadcastVariant.objects.create(broadcast=broadcast, text="bench")
        audiences[label] = (broadcast, [])
    for _ in range(args.iterations):  # in turns, so load on the machine hits every audience alike
        for broadcast, timings in audiences.values():
            started = time.perf_counter()
            preview = broadcasts.broadcast_preview(broadcast)
            timings.append((time.perf_counter() - started) * 1000)
    print()
    followers = broadcasts.channel_identities(channel).count()
    print(f"broadcast_preview, {followers:,} followers, {args.iterations} runs each, PostgreSQL")
    print(f"{'audience':<18} {'recipients':>10} {'median ms':>9} {'p95 ms':>7} {'p99 ms':>7}")
    for label, (broadcast, timings) in audiences.items():
        preview = broadcasts.broadcast_preview(broadcast)
        print(
            f"{label:<18} {preview.recipients:>10,} {pct(timings, 50):>9.1f} {pct(timings, 95):>7.1f}"
            f" {pct(timings, 99):>7.1f}"
        )
        broadcast.delete()
    return 0


if __name__ == "__main__":
    sys.exit(main())
