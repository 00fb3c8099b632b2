"""LINE webhook throughput on PostgreSQL through uvicorn, Redis and a real Celery worker.

    .venv/bin/python bench/webhooks.py [--database-url URL] [--requests 600] [--concurrency 8]
                                       [--users 300] [--web-workers 4] [--celery-concurrency 2]
                                       [--redeliver 0.05] [--check]

It migrates its own database (default crm_bench_social), creates the channel "bench LINE" (removing
what an earlier run left), starts a fake LINE API on 127.0.0.1 (profiles), uvicorn (ASGI) and a Celery
worker (prefork) on Redis database 11 (CONN_MAX_AGE=0: under ASGI each request runs in its own thread), then:

  warm-up        one message from each of --users followers, so that the timed phase measures the
                 everyday case (known followers; first contact creates a customer and is slower);
  baseline       GET /healthz at the same concurrency: what this machine answers at all right now;
  webhooks       --requests signed POSTs of 10 message events each (LINE's batching), from
                 --concurrency threads with keep-alive connections; --redeliver of them are sent a
                 second time (LINE redelivery): they must be acknowledged and not processed again;

and prints the answer time p50/p95/p99 of each phase, the end-to-end rate (first POST to the last
event's timeline row), and the loss / duplicate count: every event sent must be in the timeline
exactly once. With --check the exit status is 1 when p99 > 50 ms, the rate < 1,000 events/s, or an
event is lost or duplicated.
"""

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_social"
REDIS_URL = "redis://127.0.0.1:6379/11"
CHANNEL_NAME = "bench LINE"
SECRET = "bench-line-secret"
TOKEN = "bench-line-token"
TARGET_P99_MS = 50.0
TARGET_RATE = 1000.0
EVENTS_PER_REQUEST = 10


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    parser.add_argument("--requests", type=int, default=600, help="timed webhook POSTs (10 events each)")
    parser.add_argument("--concurrency", type=int, default=8, help="load generator threads")
    parser.add_argument("--users", type=int, default=300, help="followers the events come from")
    parser.add_argument("--web-workers", type=int, default=4, help="uvicorn workers (docker-compose runs 4)")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--redeliver", type=float, default=0.05, help="share of requests sent twice")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the timeline")
    parser.add_argument("--check", action="store_true")
    return parser.parse_args()


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main() -> int:
    args = parse_args()
    from bench.harness import create_database_if_missing

    create_database_if_missing(args.database_url)
    from tests.social.fake_line import FakeLine

    fake = FakeLine(access_token=TOKEN).start()
    env = {
        **os.environ,
        "DATABASE_URL": args.database_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "CONN_MAX_AGE": "0",  # persistent connections leak one per request thread under ASGI
        "DATABASE_POOL": os.environ.get("DATABASE_POOL", "1"),  # a pool hands connections back instead
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "LINE_API_BASE": fake.url,
        "LINE_DATA_API_BASE": fake.url,
        "DJANGO_SETTINGS_MODULE": "crm.settings",
    }
    os.environ.update(
        {k: env[k] for k in ("DATABASE_URL", "REDIS_URL", "CONN_MAX_AGE", "DJANGO_SETTINGS_MODULE")}
    )
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    import django

    django.setup()
    channel = prepare_channel()
    purge_queue()
    port = free_port()
    uvicorn = [
        str(ROOT / ".venv/bin/uvicorn"),
        "crm.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    uvicorn += [
        "--workers",
        str(args.web_workers),
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    celery = [str(ROOT / ".venv/bin/celery"), "-A", "crm", "worker", "--pool", "prefork", "-l", "warning"]
    celery += ["--concurrency", str(args.celery_concurrency), "--without-gossip", "--without-mingle"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)  # noqa: S603 - our own command line
        for command in (uvicorn, celery)
    ]
    try:
        wait_for_server(port)
        load = os.getloadavg()
        results = measure(args, port, channel)
    finally:
        for process in processes:  # a warm shutdown: the worker finishes (or requeues) what it holds
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        fake.stop()
    return report(args, results, load)


def prepare_channel():
    from customers.models import Customer
    from social import services
    from social.models import Channel

    old = Channel.objects.filter(name=CHANNEL_NAME)
    Customer.objects.filter(source__endswith=CHANNEL_NAME).delete()
    old.delete()
    return services.channel_create(
        actor=None,
        kind="line",
        name=CHANNEL_NAME,
        credentials={"channel_secret": SECRET, "access_token": TOKEN},
    )


def purge_queue():
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def wait_for_server(port, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("uvicorn did not start")


def line_event(user: str, event_id: str, text: str) -> dict:
    return {
        "type": "message",
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user},
        "webhookEventId": event_id,
        "deliveryContext": {"isRedelivery": False},
        "replyToken": f"rt-{event_id}",
        "message": {"id": event_id, "type": "text", "quoteToken": "q", "text": text},
    }


def signed_body(events) -> tuple[bytes, str]:
    from social.providers import line

    body = json.dumps({"destination": "Ubench", "events": events}).encode()
    return body, line.signature(SECRET, body)


def fire(port, jobs, concurrency, method="POST", path="/"):
    """Send every job (body, signature) from `concurrency` keep-alive connections; answer times in ms."""
    timings, errors, lock = [], [], threading.Lock()
    queue = list(enumerate(jobs))
    queue.reverse()

    def worker():
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                if not queue:
                    break
                _index, job = queue.pop()
            body, signature = job if job else (None, None)
            headers = {"Content-Type": "application/json", "x-line-signature": signature} if body else {}
            started = time.perf_counter()
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                status = repr(exc)
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                timings.append(elapsed)
                if status != 200:
                    errors.append(status)
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return timings, errors


def timeline_count(channel) -> int:
    from django.db import connection

    from customers.models import Interaction

    connection.close_if_unusable_or_obsolete()
    return Interaction.objects.filter(kind="message_in", data__channel_id=channel.pk).count()


def wait_for_timeline(channel, expected, timeout) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if timeline_count(channel) >= expected:
            return time.perf_counter()
        time.sleep(0.05)
    return None


def measure(args, port, channel) -> dict:
    path = channel.webhook_path
    users = [f"Ubench{n:027d}" for n in range(args.users)]
    # Warm-up: one message per follower, ten followers per request, creates their customers.
    warm = [
        signed_body([line_event(user, f"warm-{user}", "hello") for user in users[i : i + EVENTS_PER_REQUEST]])
        for i in range(0, len(users), EVENTS_PER_REQUEST)
    ]
    _timings, warm_errors = fire(port, warm, args.concurrency, path=path)
    if warm_errors:
        raise SystemExit(f"warm-up errors: {warm_errors[:5]}")
    if wait_for_timeline(channel, len(users), args.timeout) is None:
        raise SystemExit("warm-up events did not reach the timeline in time")
    baseline, _ = fire(port, [None] * args.requests, args.concurrency, method="GET", path="/healthz")
    one_health, one_webhook = one_at_a_time(args, port, path, users)
    if wait_for_timeline(channel, len(users) + len(one_webhook) * EVENTS_PER_REQUEST, args.timeout) is None:
        raise SystemExit("one-at-a-time events did not reach the timeline in time")

    jobs, sent = [], 0
    for r in range(args.requests):
        events = [
            line_event(users[(r * EVENTS_PER_REQUEST + n) % len(users)], f"bench-{r}-{n}", f"message {r}-{n}")
            for n in range(EVENTS_PER_REQUEST)
        ]
        sent += len(events)
        jobs.append(signed_body(events))
    every = max(1, round(1 / args.redeliver)) if args.redeliver > 0 else 0
    jobs_with_retries = []
    for index, job in enumerate(jobs):
        jobs_with_retries.append(job)
        if every and index % every == 0 and index >= 2 * args.concurrency:
            jobs_with_retries.append(jobs[index - 2 * args.concurrency])
    before = timeline_count(channel)
    started = time.perf_counter()
    webhook, errors = fire(port, jobs_with_retries, args.concurrency, path=path)
    answered = time.perf_counter()
    finished = wait_for_timeline(channel, before + sent, args.timeout)
    time.sleep(1.0)  # let any duplicate work land before counting
    outcome = count_outcome(channel, before)
    drain_seconds = drain_backlog(args, channel, users)
    return {
        "one_health": one_health,
        "one_webhook": one_webhook,
        "drain_seconds": drain_seconds,
        "baseline": baseline,
        "webhook": webhook,
        "errors": errors,
        "sent": sent,
        "posts": len(jobs_with_retries),
        "redelivered": len(jobs_with_retries) - len(jobs),
        "seconds_to_answer": answered - started,
        "seconds_end_to_end": (finished - started) if finished else None,
        **outcome,
        "users": len(users),
    }


def one_at_a_time(args, port, path, users, rounds=200):
    """GET /healthz and one webhook POST in turns, one request in flight: answer time without queueing."""
    health, webhook = [], []
    for r in range(rounds):
        events = [line_event(users[(r + n) % len(users)], f"seq-{r}-{n}", "one at a time") for n in range(10)]
        for timings, job, method, target in (
            (health, None, "GET", "/healthz"),
            (webhook, signed_body(events), "POST", path),
        ):
            result, errors = fire(port, [job], 1, method=method, path=target)
            if errors:
                raise SystemExit(f"{method} {target}: {errors}")
            timings += result
    return health, webhook


def drain_backlog(args, channel, users, count=None) -> float | None:
    """Store a backlog directly (as if the web tier had taken it during an outage) and time the worker."""
    from social.webhooks import events_store

    count = count or args.requests * EVENTS_PER_REQUEST
    before = timeline_count(channel)
    keyed = [
        (f"drain-{n}", line_event(users[n % len(users)], f"drain-{n}", f"backlog {n}")) for n in range(count)
    ]
    started = time.perf_counter()
    for start in range(0, count, 500):
        events_store(channel.pk, keyed[start : start + 500])
    finished = wait_for_timeline(channel, before + count, args.timeout)
    return (finished - started) if finished else None


def count_outcome(channel, before) -> dict:
    from django.db.models import Count

    from customers.models import Interaction
    from social.models import InboundEvent, Message

    events = InboundEvent.objects.filter(channel=channel, event_key__startswith="bench-")
    messages = Message.objects.filter(conversation__channel=channel, provider_message_id__startswith="bench-")
    entries = Interaction.objects.filter(kind="message_in", data__channel_id=channel.pk)
    duplicated_messages = (
        messages.values("provider_message_id").annotate(n=Count("id")).filter(n__gt=1).count()
    )
    duplicated_entries = entries.values("subject_id").annotate(n=Count("id")).filter(n__gt=1).count()
    return {
        "stored": events.count(),
        "processed": events.filter(status="processed").count(),
        "messages": messages.count(),
        "timeline": entries.count() - before,
        "duplicated": duplicated_messages + duplicated_entries,
    }


def report(args, r, load) -> int:
    lost = r["sent"] - r["timeline"]
    print()
    print(f"LINE webhooks — {platform.node()}, {os.cpu_count()} CPUs, load average before {load[0]:.2f}")
    print(
        f"uvicorn workers {args.web_workers}, celery prefork concurrency {args.celery_concurrency}, "
        f"{args.concurrency} client threads, {r['users']} followers, {EVENTS_PER_REQUEST} events per POST"
    )
    print()
    print(f"{'phase':<34} {'n':>6} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}  target")
    rows = [
        (f"GET /healthz, {args.concurrency} at once", r["baseline"], ""),
        (f"POST webhook, {args.concurrency} at once", r["webhook"], "webhook"),
    ]
    for name, timings, kind in rows:
        target = ""
        if kind:
            p99 = percentile(timings, 99)
            target = f"p99 ≤ {TARGET_P99_MS:g} ms " + ("ok" if p99 <= TARGET_P99_MS else "MISSED")
        print(
            f"{name:<34} {len(timings):>6} {percentile(timings, 50):>8.2f} {percentile(timings, 95):>8.2f}"
            f" {percentile(timings, 99):>8.2f}  {target}"
        )
    for name, timings in (
        ("GET /healthz, one at a time", r["one_health"]),
        ("POST webhook, one at a time", r["one_webhook"]),
    ):
        print(
            f"{name:<34} {len(timings):>6} {percentile(timings, 50):>8.2f} {percentile(timings, 95):>8.2f}"
            f" {percentile(timings, 99):>8.2f}"
        )
    print()
    answer_rate = r["posts"] * EVENTS_PER_REQUEST / r["seconds_to_answer"]
    print(
        f"POSTs answered: {r['posts']} ({r['redelivered']} redeliveries) in {r['seconds_to_answer']:.2f} s "
        f"= {answer_rate:,.0f} events/s accepted; non-200 answers: {len(r['errors'])}"
    )
    rate = None
    if r["seconds_end_to_end"]:
        rate = r["sent"] / r["seconds_end_to_end"]
        verdict = "ok" if rate >= TARGET_RATE else "MISSED"
        print(
            f"end to end: {r['sent']:,} events into the timeline in {r['seconds_end_to_end']:.2f} s = "
            f"{rate:,.0f} events/s  (target ≥ {TARGET_RATE:,.0f}: {verdict})"
        )
    else:
        print(f"end to end: NOT FINISHED within {args.timeout:g} s")
    if r["drain_seconds"]:
        drained = args.requests * EVENTS_PER_REQUEST
        print(
            f"worker alone: a backlog of {drained:,} stored events into the timeline in "
            f"{r['drain_seconds']:.2f} s = {drained / r['drain_seconds']:,.0f} events/s"
        )
    print(
        f"events sent {r['sent']:,}, stored {r['stored']:,}, processed {r['processed']:,}, messages "
        f"{r['messages']:,}, timeline rows {r['timeline']:,}: lost {lost}, duplicated {r['duplicated']}"
    )
    met = (
        percentile(r["webhook"], 99) <= TARGET_P99_MS
        and rate is not None
        and rate >= TARGET_RATE
        and lost == 0
        and r["duplicated"] == 0
        and not r["errors"]
    )
    return 1 if args.check and not met else 0


if __name__ == "__main__":
    sys.exit(main())
