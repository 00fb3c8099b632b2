"""python manage.py seed_csat_demo: solved e-mail and phone tickets with answered satisfaction surveys
for the demo customers, and a switched-off demo mailbox to show the mailbox settings. Safe to run again."""

import datetime as dt
import random
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import override_settings
from django.utils import timezone

from customers.models import Customer
from tickets import crypto
from tickets.models import CsatSurvey, Mailbox, Ticket
from tickets.services import ticket_create, ticket_reply, ticket_set_status

MAILBOX = "Demo support mailbox"
AGENTS = ["agent", "agent2", "manager"]
SUBJECTS = [
    ("包裹破損，要求換貨", "email"),
    ("發票抬頭錯誤", "email"),
    ("Wrong size delivered", "phone"),
    ("退款還沒收到", "phone"),
    ("无法登录会员账号", "email"),
    ("Change delivery address", "phone"),
]
COMMENTS = ["", "", "處理很快，謝謝！", "Friendly and quick.", "等了太久。", "问题已解决，满意。"]
RATINGS = [5, 5, 4, 4, 4, 3, 2, 5, 1, 4, None, None]


class Command(BaseCommand):
    help = __doc__

    @override_settings(TICKETS_CSAT_ENABLED=False)  # surveys are written below, not e-mailed
    def handle(self, *args, **options):
        if Mailbox.objects.filter(name=MAILBOX).exists():
            self.stdout.write("The CSAT demo is already there.")
            return
        users = list(get_user_model().objects.filter(username__in=AGENTS).order_by("username"))
        customers = list(Customer.objects.filter(contact_points__kind="email").distinct().order_by("id")[:12])
        if not users or not customers:
            self.stdout.write("No demo users or customers: run `manage.py seed_demo` first.")
            return
        rng = random.Random(7)
        now = timezone.now()
        with transaction.atomic():
            Mailbox.objects.create(
                name=MAILBOX,
                email_address="support@example.com",
                host="imap.example.com",
                username="support@example.com",
                password_encrypted=crypto.encrypt("demo-password"),
                enabled=False,
            )
            for index, rating in enumerate(RATINGS):
                customer = customers[index % len(customers)]
                agent = users[index % len(users)]
                subject, source = SUBJECTS[index % len(SUBJECTS)]
                opened = now - dt.timedelta(days=rng.randint(3, 150), hours=rng.randint(0, 8))
                ticket = ticket_create(
                    actor=None, customer=customer, subject=subject, source=source, assignee=agent, now=opened
                )
                ticket_reply(
                    ticket=ticket,
                    actor=None,
                    body="已為您處理，謝謝您的耐心。",
                    now=opened + dt.timedelta(hours=2),
                )
                solved = opened + dt.timedelta(hours=rng.randint(3, 40))
                ticket_set_status(ticket=ticket, actor=agent, status=Ticket.Status.SOLVED, now=solved)
                answered = solved + dt.timedelta(hours=rng.randint(1, 30)) if rating else None
                CsatSurvey.objects.create(
                    ticket=ticket,
                    nonce=secrets.token_urlsafe(18),
                    channel=CsatSurvey.Channel.EMAIL,
                    agent=agent,
                    team=ticket.team,
                    rating=rating,
                    comment=COMMENTS[index % len(COMMENTS)] if rating else "",
                    sent_at=solved,
                    answered_at=answered,
                )
        self.stdout.write(
            f"Added {len(RATINGS)} solved tickets with surveys and a demo mailbox (switched off)."
        )
