"""python manage.py seed_sales_demo: demo deals over the demo customers, follow-ups for the demo users."""

import datetime as dt
import random
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from customers.models import Customer
from sales import services
from sales.models import Cadence, Deal, LostReason, Pipeline, Task

MARKER = "demo"
TITLES = [
    ("ERP 導入專案", 1_200_000),
    ("年度維護合約", 180_000),
    ("官網改版", 350_000),
    ("POS 系統汰換", 640_000),
    ("會員方案升級", 36_000),
    ("门店收银系统", 280_000),
    ("企业微信集成", 150_000),
    ("Cloud backup", 90_000),
    ("Data migration", 220_000),
    ("Training package", 45_000),
]
SELLERS = ["rep", "rep2", "manager", "manager2"]
TASK_USERS = ["rep", "rep2", "manager", "manager2", "agent", "agent2"]
TASKS = [
    (-2, 10, "回電確認報價"),
    (-1, 15, "Send the revised proposal"),
    (0, 10, "跟進合約簽署"),
    (0, 14, "Call about the renewal"),
    (0, 16, "確認交貨日期"),
    (1, 11, "Demo for the purchasing team"),
    (3, 9, "寄送產品型錄"),
    (5, 15, "Quarterly check-in"),
]


class Command(BaseCommand):
    help = (
        "Add the sales demo on top of seed_demo: deals at every stage of the Sales pipeline for the demo "
        "customers, and overdue, today's and upcoming follow-ups for the demo users. Safe to run again."
    )

    def handle(self, *args, **options):
        users = {
            u.username: u for u in get_user_model().objects.filter(username__in=set(SELLERS + TASK_USERS))
        }
        if not any(name in users for name in SELLERS):
            self.stdout.write("No demo users: run `manage.py seed_demo` first.")
            return
        pipeline = Pipeline.objects.filter(name="Sales").first() or Pipeline.objects.first()
        if pipeline is None:
            self.stdout.write("No pipeline: run the migrations first.")
            return
        if Deal.objects.filter(source=MARKER).exists():
            self.stdout.write("Demo deals are already there; leaving them as they are.")
        else:
            count = self._deals(users, pipeline)
            self.stdout.write(self.style.SUCCESS(f"Created {count} demo deals."))
        if Task.objects.filter(data__demo=True).exists():
            self.stdout.write("Demo follow-ups are already there; leaving them as they are.")
        else:
            count = self._tasks(users)
            self.stdout.write(self.style.SUCCESS(f"Created {count} demo follow-ups."))
        from sales.demo_quotes import seed_forecast_history, seed_quotes

        self.stdout.write(seed_quotes(users, SELLERS))
        self.stdout.write(seed_forecast_history(users, SELLERS, pipeline))

    @transaction.atomic
    def _deals(self, users, pipeline) -> int:
        rng = random.Random(2026)
        stages = list(pipeline.stages.all())
        open_stages = [s for s in stages if not s.is_closed]
        reasons = list(LostReason.objects.filter(active=True))
        today = timezone.localdate()
        count = 0
        for name in SELLERS:
            owner = users.get(name)
            if owner is None:
                continue
            customers = list(Customer.objects.filter(owner=owner).order_by("id")[:12])
            for index, customer in enumerate(customers):
                title, amount = TITLES[(index + count) % len(TITLES)]
                deal = services.deal_create(
                    actor=owner,
                    customer=customer,
                    title=title,
                    amount=Decimal(amount),
                    currency="CNY" if name.endswith("2") else "TWD",
                    stage=open_stages[0],
                    expected_close_date=today + dt.timedelta(days=rng.randrange(-10, 120)),
                    source=MARKER,
                    contract_status=rng.choice(["none", "none", "sent"]),
                )
                count += 1
                target = rng.choice(stages)
                for stage in [s for s in open_stages if s.order <= target.order][1:] + (
                    [target] if target.is_closed else []
                ):
                    deal = services.deal_move(
                        deal=deal,
                        stage=stage,
                        expected_version=deal.version,
                        actor=owner,
                        lost_reason=rng.choice(reasons) if stage.is_lost and reasons else None,
                    )
                if index % 5 == 4:  # a few deals nobody touched for weeks: they rot on the board
                    Deal.objects.filter(pk=deal.pk).update(
                        last_activity_at=timezone.now() - dt.timedelta(days=rng.randrange(20, 40))
                    )
        return count

    @transaction.atomic
    def _tasks(self, users) -> int:
        cadence = Cadence.objects.filter(active=True, repeat=Cadence.Repeat.NO_ANSWER).first()
        start = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
        count = 0
        for name in TASK_USERS:
            user = users.get(name)
            if user is None:
                continue
            deals = list(
                Deal.objects.filter(owner=user, status=Deal.Status.OPEN).select_related("customer")[:8]
            )
            customers = list(Customer.objects.filter(owner=user).order_by("id")[:8]) or [None]
            for index, (day, hour, title) in enumerate(TASKS):
                deal = deals[index % len(deals)] if deals and index % 2 == 0 else None
                customer = None if deal else customers[index % len(customers)]
                services.task_create(
                    actor=user,
                    check_access=False,
                    title=title,
                    due_at=start + dt.timedelta(days=day, hours=hour),
                    assignee=user,
                    customer=customer,
                    deal=deal,
                    priority=3 if index == 2 else 2,
                    cadence=cadence if "Call" in title or "回電" in title else None,
                    remind_at=None if day < 0 else start + dt.timedelta(days=day, hours=hour),
                    data={"demo": True},
                )
                count += 1
        return count
