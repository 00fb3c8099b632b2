"""A 100,000-recipient LINE broadcast against the fake LINE server, on PostgreSQL.

    .venv/bin/python bench/broadcast.py [--database-url URL] [--recipients 100000] [--runs 3]
                                        [--rate 0] [--with-rate 100]

Builds (once, then reuses) a LINE channel with --recipients followers who all granted marketing
consent and carry the tag "bench-broadcast", starts the fake LINE server of the tests on 127.0.0.1,
and sends a broadcast to them --runs times through social.broadcast_sending.broadcast_run, which is what the
Celery task runs: deliveries prepared, 200 multicasts of 500 user ids over one kept-alive connection,
each batch's deliveries marked and its 500 timeline entries written in one transaction.

Printed per run: preparing the deliveries, sending, the whole; and over all batches, p50/p95/p99 of
one multicast round trip and of one batch's database work. The baseline row is the same 200
multicasts sent straight to the fake server with no database at all, in the same run. With
--with-rate R one more run is made under a limit of R requests a second (the setting
SOCIAL_BROADCAST_REQUESTS_PER_SECOND) to show the limit holds.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import create_database_if_missing  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_broadcast"
TAG = "bench-broadcast"
CHANNEL = "Bench LINE broadcast"
TOKEN = "bench-line-token"


def main() -> int:
    args = parse_args()
    create_database_if_missing(args.database_url)
    os.environ.update(
        DATABASE_URL=args.database_url, REDIS_URL="", DEBUG="0", DJANGO_SETTINGS_MODULE="crm.settings"
    )
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from tests.social.fake_line import FakeLine

    call_command("migrate", verbosity=0)
    channel, tag = ensure_audience(args.recipients)
    server = FakeLine(access_token=TOKEN).start()
    # The fake writes a response's headers and body in two sends: with Nagle on, a kept-alive client
    # waits for a delayed ACK (40 ms) per request, which measures the fake, not the sender.
    server._server.RequestHandlerClass.disable_nagle_algorithm = True
    settings.LINE_API_BASE = server.url
    try:
        baseline = multicast_baseline(server, args.recipients)
        runs = []
        for index in range(args.runs):
            runs.append(
                one_run(server, channel, tag, rate=args.rate, label=f"run {index + 1}, no rate limit")
            )
        if args.with_rate:
            runs.append(
                one_run(server, channel, tag, rate=args.with_rate, label=f"limit {args.with_rate:g} req/s")
            )
    finally:
        server.stop()
    report(args, baseline, runs)
    return 0


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="broadcasts with the rate limit off (default 3)")
    parser.add_argument("--rate", type=float, default=0, help="requests a second for those runs (0: off)")
    parser.add_argument(
        "--with-rate", type=float, default=0, help="one more run under this limit (e.g. 100; default none)"
    )
    return parser.parse_args()


def ensure_audience(count: int):
    """The channel, the tag and `count` consenting followers; only what is missing is created."""
    from django.db import transaction

    from customers.models import Consent, Customer, SocialIdentity, Tag
    from social.models import Channel

    channel = Channel.objects.filter(kind="line", name=CHANNEL).first()
    if channel is None:
        channel = Channel(kind="line", name=CHANNEL)
        channel.set_credentials({"channel_secret": "bench-secret", "access_token": TOKEN})
        channel.save()
    tag, _created = Tag.objects.get_or_create(name=TAG)
    have = SocialIdentity.objects.filter(channel=str(channel.pk)).count()
    missing = count - have
    if missing <= 0:
        print(f"{have:,} followers already there.")
        return channel, tag
    print(f"Creating {missing:,} followers ({have:,} already there)…")
    chunk = 10_000
    for start in range(have, count, chunk):
        size = min(chunk, count - start)
        with transaction.atomic():
            customers = Customer.objects.bulk_create(
                [Customer(name=f"Broadcast follower {start + i}") for i in range(size)], batch_size=2000
            )
            SocialIdentity.objects.bulk_create(
                [
                    SocialIdentity(
                        customer=c, provider="line", channel=str(channel.pk), external_id=f"U{c.pk:032x}"
                    )
                    for c in customers
                ],
                batch_size=2000,
            )
            Customer.tags.through.objects.bulk_create(
                [Customer.tags.through(customer_id=c.pk, tag_id=tag.pk) for c in customers], batch_size=5000
            )
            Consent.objects.bulk_create(
                [Consent(customer=c, purpose="marketing", channel="line", granted=True) for c in customers],
                batch_size=2000,
            )
    with transaction.atomic():
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    return channel, tag


def multicast_baseline(server, count: int) -> list[float]:
    """The same multicasts with no database: what the fake server and one connection cost."""
    from social.providers.keepalive import KeepAliveJson

    http = KeepAliveJson(server.url, headers={"Authorization": f"Bearer {TOKEN}"})
    ids = [f"U{i:032x}" for i in range(500)]
    timings = []
    try:
        for batch in range(-(-count // 500)):
            started = time.perf_counter()
            http.post(
                "/v2/bot/message/multicast",
                {"to": ids, "messages": [{"type": "text", "text": "baseline"}]},
                headers={"X-Line-Retry-Key": f"00000000-0000-4000-8000-{batch:012d}"},
            )
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        http.close()
    server.clear()
    return timings


def one_run(server, channel, tag, *, rate: float, label: str) -> dict:
    from django.conf import settings

    from crm.models import User
    from social import broadcast_sending
    from social.models import Broadcast, BroadcastVariant

    settings.SOCIAL_BROADCAST_REQUESTS_PER_SECOND = rate
    author = User.objects.filter(is_superuser=True).first()
    broadcast = Broadcast.objects.create(
        name=f"Bench {label}", channel=channel, status=Broadcast.Status.SENDING, created_by=author
    )
    broadcast.tags.add(tag)
    BroadcastVariant.objects.create(broadcast=broadcast, label="A", percent=100, text="週年慶 8 折")
    sends, batches = [], []
    real_send, real_done, real_prepare = (
        broadcast_sending._send_batch,
        broadcast_sending._batch_done,
        broadcast_sending.deliveries_prepare,
    )
    prepared = {}

    def timed_send(*a):
        started = time.perf_counter()
        try:
            return real_send(*a)
        finally:
            sends.append((time.perf_counter() - started) * 1000)

    def timed_done(*a):
        started = time.perf_counter()
        try:
            return real_done(*a)
        finally:
            batches.append((time.perf_counter() - started) * 1000)

    def timed_prepare(*a):
        started = time.perf_counter()
        try:
            return real_prepare(*a)
        finally:
            prepared["ms"] = (time.perf_counter() - started) * 1000

    broadcast_sending._send_batch, broadcast_sending._batch_done, broadcast_sending.deliveries_prepare = (
        timed_send,
        timed_done,
        timed_prepare,
    )
    server.clear()
    load = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        outcome = broadcast_sending.broadcast_run(broadcast_id=broadcast.pk, budget_seconds=3600)
    finally:
        broadcast_sending._send_batch, broadcast_sending._batch_done, broadcast_sending.deliveries_prepare = (
            real_send,
            real_done,
            real_prepare,
        )
    total = time.perf_counter() - started
    broadcast.refresh_from_db()
    requests = server.calls("/multicast")
    recipients = {user_id for call in requests for user_id in call.json()["to"]}
    assert outcome == "done", outcome
    assert broadcast.sent_count == broadcast.total == len(recipients), (broadcast.sent_count, len(recipients))
    server.clear()
    return {
        "label": label,
        "total_s": total,
        "prepare_s": prepared.get("ms", 0) / 1000,
        "send_s": total - prepared.get("ms", 0) / 1000,
        "recipients": broadcast.total,
        "requests": len(requests),
        "sends": sends,
        "batches": batches,
        "load": load,
    }


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else 0.0


def report(args, baseline, runs) -> None:
    print()
    print(f"LINE broadcast to {args.recipients:,} followers, fake LINE server on 127.0.0.1, PostgreSQL")
    print()
    header = (
        f"{'run':<28} {'recipients':>10} {'requests':>8} {'prepare s':>9} {'send s':>7} {'total s':>8}"
        f" {'recipients/s':>12} {'load':>5}"
    )
    print(header)
    for run in runs:
        print(
            f"{run['label']:<28} {run['recipients']:>10,} {run['requests']:>8} {run['prepare_s']:>9.2f}"
            f" {run['send_s']:>7.2f} {run['total_s']:>8.2f} {run['recipients'] / run['total_s']:>12,.0f}"
            f" {run['load']:>5.2f}"
        )
    unlimited = [run for run in runs if "no rate limit" in run["label"]] or runs
    totals = [run["total_s"] for run in unlimited]
    print(
        f"\ntime to finish, rate limit off: median {statistics.median(totals):.2f} s over {len(totals)} runs"
    )
    print()
    print(f"{'per batch of 500 (all runs, no limit)':<40} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    sends = [t for run in unlimited for t in run["sends"]]
    batches = [t for run in unlimited for t in run["batches"]]
    for name, values in (
        ("baseline: multicast, no database", baseline),
        ("multicast round trip", sends),
        ("database: deliveries + 500 timeline rows", batches),
    ):
        print(
            f"{name:<40} {len(values):>5} {pct(values, 50):>8.2f} {pct(values, 95):>8.2f} {pct(values, 99):>8.2f}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
