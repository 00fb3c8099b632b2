"""The e-mail channel and CSAT on PostgreSQL: ingesting e-mail, a mailbox poll over IMAP, the CSAT report.

    .venv/bin/python bench/tickets_email.py [--messages 600] [--surveys 50000] [--database-url URL]

Uses its own database (created and migrated when missing).
1. Ingest: `email_ingest` per message (parse, thread lookup, customer by address, ticket or reply,
   timeline), for new messages (UTF-8, Big5 and GB2312 mail with quoted history and a PDF), then
   replies threaded by In-Reply-To, then the same messages again (recognised by Message-ID).
2. Poll: one `mailbox_poll` of the same number of new messages from the fake IMAP server of the tests
   on 127.0.0.1 (protocol, fetch, ingest, \\Seen), messages per second.
3. The CSAT report page over `--surveys` surveys (loaded once with bulk inserts), timed through
   django.test.Client against the bare "hello" view in the same run (bench/harness.py).
"""

import argparse
import datetime as dt
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import Scenario, add_common_arguments, create_database_if_missing, report, run  # noqa: E402

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/crm_bench_tickets_email"
SUBJECTS = {"big5": "包裹破損，要求換貨", "gb2312": "发票抬头错误", "utf-8": "Wrong size delivered"}
BODIES = [
    (
        "您好，我的包裹破損了，請協助處理。\n\n寄件者: Support <support@example.com>\n寄件日期: 2026年11月23日\n",
        "big5",
    ),
    ("您好，发票抬头写错了，麻烦重开。\n\n-----原始邮件-----\n发件人: Support\n", "gb2312"),
    (
        "Hello, the shirt is the wrong size.\n\nOn Mon, 23 Nov 2026, Support <support@example.com> wrote:\n> Hi\n",
        "utf-8",
    ),
]


def main() -> int:
    args = parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
    os.environ["CELERY_BROKER_URL"] = "memory://"
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "1"
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ["DEBUG"] = "0"
    os.environ["DJANGO_SETTINGS_MODULE"] = "crm.settings"
    os.environ.setdefault("MEDIA_ROOT", tempfile.mkdtemp(prefix="bench-media-"))
    create_database_if_missing(args.database_url)

    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ROOT_URLCONF = "bench.urls"
    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    run_id = f"{int(time.time())}"
    rows = [("ingest: new message", ingest_new(args.messages, run_id))]
    rows.append(("ingest: threaded reply", ingest_replies(args.messages, run_id)))
    rows.append(("ingest: same message again", ingest_again(args.messages, run_id)))
    print()
    print(f"{'e-mail step':<34} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, timings in rows:
        print(
            f"{name:<34} {len(timings):>5} {pct(timings, 50):>8.2f} {pct(timings, 95):>8.2f} {pct(timings, 99):>8.2f}"
        )
    count, seconds = poll(args.messages, run_id)
    print(f"\nIMAP poll: {count} messages in {seconds:.1f} s = {count / seconds:.0f} messages/s")

    scenarios = csat_scenarios(args)
    run(scenarios, args)
    missed = report(scenarios)
    return 1 if args.check and missed else 0


def pct(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def raw_message(n: int, run_id: str, *, reply_to: str | None = None) -> bytes:
    from tests.tickets.mail_fixtures import make_email

    body, charset = BODIES[n % len(BODIES)]
    return make_email(
        subject=("Re: " if reply_to else "") + SUBJECTS[charset],
        body=body,
        sender=("陳美麗" if charset == "big5" else "Wang Wei", f"customer{n % 300}@bench.example"),
        message_id=f"<{'r' if reply_to else 'm'}{n}.{run_id}@bench.example>",
        in_reply_to=reply_to,
        charset=charset,
        attachments=[("receipt.pdf", "application/pdf", b"%PDF-1.4 " + b"x" * 20_000)] if n % 5 == 0 else (),
    )


def timed(messages) -> list[float]:
    from tickets.services.email import email_ingest

    timings = []
    for raw in messages:
        started = time.perf_counter()
        email_ingest(raw=raw)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def ingest_new(count, run_id):
    return timed([raw_message(n, run_id) for n in range(count)])


def ingest_replies(count, run_id):
    return timed([raw_message(n, run_id, reply_to=f"<m{n}.{run_id}@bench.example>") for n in range(count)])


def ingest_again(count, run_id):
    return timed([raw_message(n, run_id) for n in range(count)])


def poll(count, run_id):
    from tests.tickets.fake_imap import FakeImapServer
    from tickets import crypto
    from tickets.mail.imap import mailbox_poll
    from tickets.models import Mailbox

    with FakeImapServer(password="bench-pass") as server:  # noqa: S106 - the fake server's
        for n in range(count):
            server.add(raw_message(n, f"poll{run_id}"))
        mailbox = Mailbox.objects.create(
            name=f"Bench {run_id}",
            email_address="support@example.com",
            host=server.host,
            port=server.port,
            use_ssl=False,
            username=server.username,
            password_encrypted=crypto.encrypt("bench-pass"),
        )
        started = time.perf_counter()
        result = mailbox_poll(mailbox)
        seconds = time.perf_counter() - started
    assert not mailbox.last_error, mailbox.last_error
    return result.fetched, seconds


def csat_scenarios(args) -> list[Scenario]:
    from django.contrib.auth.models import Group
    from django.test import Client
    from django.utils import timezone

    from crm import roles
    from crm.models import Team, User
    from customers.models import Customer
    from tickets.models import CsatSurvey, Ticket

    team, _ = Team.objects.get_or_create(name="Bench support")
    manager, created = User.objects.get_or_create(username="bench-manager", defaults={"team": team})
    if created:
        manager.groups.add(Group.objects.get(name=roles.MANAGER))
        team.manager = manager
        team.save()
    admin, created = User.objects.get_or_create(username="bench-admin", defaults={"team": team})
    if created:
        admin.groups.add(Group.objects.get(name=roles.ADMIN))
    agents = []
    for n in range(20):
        user, _ = User.objects.get_or_create(username=f"bench-agent{n}", defaults={"team": team})
        agents.append(user)
    have = CsatSurvey.objects.count()
    if have < args.surveys:
        print(f"\nLoading {args.surveys - have:,} solved tickets with surveys")
        rng = random.Random(1)
        customer = Customer.objects.create(name="Bench customer", team=team)
        now = timezone.now()
        start = (Ticket.objects.order_by("-number").values_list("number", flat=True).first() or 0) + 1
        for offset in range(0, args.surveys - have, 5000):
            size = min(5000, args.surveys - have - offset)
            tickets = []
            for i in range(size):
                solved = now - dt.timedelta(minutes=rng.randint(60, 60 * 24 * 700))
                tickets.append(
                    Ticket(
                        number=start + offset + i,
                        customer=customer,
                        subject="Bench",
                        status=Ticket.Status.SOLVED,
                        team=team,
                        assignee=agents[i % len(agents)],
                        created_at=solved - dt.timedelta(hours=5),
                        updated_at=solved,
                        solved_at=solved,
                    )
                )
            Ticket.objects.bulk_create(tickets, batch_size=1000)
            surveys = []
            for ticket in tickets:
                answered = rng.random() < 0.35
                surveys.append(
                    CsatSurvey(
                        ticket=ticket,
                        nonce=f"bench{ticket.number}",
                        channel="email",
                        agent_id=ticket.assignee_id,
                        team=team,
                        rating=rng.choice([1, 2, 3, 4, 4, 5, 5, 5]) if answered else None,
                        sent_at=ticket.solved_at,
                        answered_at=ticket.solved_at + dt.timedelta(hours=3) if answered else None,
                    )
                )
            CsatSurvey.objects.bulk_create(surveys, batch_size=1000)
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE tickets_csatsurvey")
            cursor.execute("VACUUM ANALYZE tickets_ticket")
    print(f"Data: {CsatSurvey.objects.count():,} surveys")
    scenarios = [Scenario("hello (baseline)", ["/bench/hello/"], Client())]
    for name, user in (("manager", manager), ("admin", admin)):
        client = Client()
        client.force_login(user)
        scenarios.append(
            Scenario(
                f"CSAT report, 6 months ({name})",
                ["/tickets/reports/csat/"],
                client,
            )
        )
        scenarios.append(
            Scenario(f"CSAT report, 24 months ({name})", ["/tickets/reports/csat/?months=24"], client)
        )
    return scenarios


def parse_args():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=600)
    parser.add_argument("--surveys", type=int, default=50_000)
    add_common_arguments(
        parser, database_url=os.environ.get("BENCH_EMAIL_DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(main())
