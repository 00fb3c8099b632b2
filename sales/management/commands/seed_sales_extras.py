"""python manage.py seed_sales_extras: demo assignment rules, orders over the demo customers, lead scores."""

import datetime as dt
import random
from decimal import Decimal

from django.core.management.base import BaseCommand
from django.utils import timezone

from crm.models import Team
from customers.models import Customer
from reports.scoring import scores_recompute_all
from sales import orders
from sales.models import AssignmentRule, Order

PRODUCTS = [
    ("TEA-OOLONG", "凍頂烏龍茶 150g", Decimal("680")),
    ("TEA-GIFT", "茶葉禮盒", Decimal("1880")),
    ("CUP-SET", "Tea cup set", Decimal("950")),
    ("MEMBER-Y", "年度會員", Decimal("3600")),
    ("SNACK", "鳳梨酥 12入", Decimal("450")),
]
CHANNELS = [Order.Channel.STORE, Order.Channel.ECOMMERCE, Order.Channel.LINE_SHOP]


class Command(BaseCommand):
    help = (
        "Add assignment rules, orders and lead scores on top of seed_demo: two rules (LINE leads round "
        "robin in the Taipei team, Shanghai numbers to the Shanghai team), 1–3 orders for a few dozen demo "
        "customers, and every customer's lead score. Safe to run again."
    )

    def handle(self, *args, **options):
        teams = {team.name: team for team in Team.objects.all()}
        taipei, shanghai = teams.get("台北業務組"), teams.get("上海销售组")
        if taipei is not None and not AssignmentRule.objects.exists():
            AssignmentRule.objects.create(
                name="LINE 名單 → 台北業務組輪派",
                position=10,
                condition="source",
                value="LINE官方帳號",
                team=taipei,
            )
            if shanghai is not None:
                AssignmentRule.objects.create(
                    name="上海号码 → 上海销售组（最少商机）",
                    position=20,
                    condition="region",
                    value="Shanghai",
                    strategy=AssignmentRule.Strategy.LEAST_OPEN,
                    team=shanghai,
                )
        created = 0
        if not Order.objects.filter(number__startswith="DEMO-").exists():
            rng = random.Random(7)
            now = timezone.now()
            customers = list(Customer.objects.filter(kind=Customer.Kind.PERSON).order_by("pk")[:40])
            sequence = 0
            for customer in customers:
                for _ in range(rng.randint(1, 3)):
                    sequence += 1
                    picks = rng.sample(PRODUCTS, rng.randint(1, 3))
                    _order, was_created = orders.order_create(
                        actor=None,
                        number=f"DEMO-{sequence:05d}",
                        customer=customer,
                        channel=rng.choice(CHANNELS),
                        ordered_at=now - dt.timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 12)),
                        items=[
                            orders.ItemInput(
                                sku=sku, description=name, quantity=rng.randint(1, 3), unit_price=price
                            )
                            for sku, name, price in picks
                        ],
                        source=Order.Source.MANUAL,
                    )
                    created += was_created
        scored = scores_recompute_all()
        self.stdout.write(f"Sales extras: {created} orders added, {scored} customers scored.")
