"""python manage.py retention_report [--months N] [--limit 50]"""

from django.conf import settings
from django.core.management.base import BaseCommand

from customers import privacy


class Command(BaseCommand):
    help = (
        "List the customers with no interaction for CUSTOMERS_RETENTION_MONTHS months (or --months), "
        "oldest first: the ones to erase or to ask for renewed consent. Changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--months", type=int, default=None)
        parser.add_argument("--limit", type=int, default=50)

    def handle(self, *args, months, limit, **options):
        months = settings.CUSTOMERS_RETENTION_MONTHS if months is None else months
        due = privacy.retention_due(months=months)
        shown = 0
        for customer in due[:limit]:
            last = customer.last_interaction_at.date() if customer.last_interaction_at else "never"
            self.stdout.write(f"{customer.pk}\t{customer.created_at.date()}\tlast interaction: {last}")
            shown += 1
        self.stdout.write(f"{shown} shown (at most {limit}); no interaction for {months} months.")
