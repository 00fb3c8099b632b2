"""python manage.py seed_demo [--customers N] [--interactions-per-customer K]"""

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from customers.management import bulk, demo
from customers.management import demo_data as d


class Command(BaseCommand):
    help = (
        "Create the demo: a user per role in two teams, and about a hundred Taiwanese and mainland "
        "customers with a few months of history. Safe to run again. With --customers N, also make "
        "sure N generated customers exist, loaded in bulk (COPY on PostgreSQL)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers",
            type=int,
            default=0,
            metavar="N",
            help="Make sure N generated customers exist on top of the demo set; adds only the missing ones.",
        )
        parser.add_argument(
            "--interactions-per-customer",
            type=int,
            default=5,
            metavar="K",
            help="Average timeline length of generated customers (default 5).",
        )

    def handle(self, *args, customers: int, interactions_per_customer: int, **options):
        if customers < 0 or interactions_per_customer < 0:
            raise CommandError("--customers and --interactions-per-customer cannot be negative.")
        staff = demo.ensure_staff()
        tags = demo.ensure_tags()
        if demo.demo_present():
            self.stdout.write("Demo customers are already there; leaving them as they are.")
        else:
            self.stdout.write("Creating the demo customers through the services…")
            totals = demo.seed_customers(staff)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created {totals.customers} customers, {totals.interactions} timeline entries."
                )
            )
        if customers:
            self._bulk(staff, tags, customers, interactions_per_customer)
        self._print_logins(staff)

    def _bulk(self, staff, tags, wanted: int, per_customer: int) -> None:
        have = bulk.generated_count()
        missing = wanted - have
        if missing <= 0:
            self.stdout.write(f"{have:,} generated customers already exist; nothing to add.")
            return
        how = "COPY" if connection.vendor == "postgresql" else "bulk_create"
        self.stdout.write(f"Generating {missing:,} customers ({have:,} already there) with {how}…")
        bulk_staff = bulk.Staff(
            owners={
                market: [(user.pk, user.team_id) for user in staff.owners(market)] for market in (d.TW, d.CN)
            },
            agents={market: [staff.agent(market).pk] for market in (d.TW, d.CN)},
            tags={name: tag.pk for name, tag in tags.items()},
        )
        totals = bulk.load_customers(
            count=missing,
            interactions_per_customer=per_customer,
            staff=bulk_staff,
            progress=self._progress(missing),
        )
        if totals.rebuilt_indexes:
            self.stdout.write(
                f"  rebuilt {len(totals.rebuilt_indexes)} GIN indexes and vacuumed the tables"
                f" in {totals.finishing_seconds:,.1f} s"
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Generated {totals.customers:,} customers, {totals.contact_points:,} contact points, "
                f"{totals.tag_links:,} tag links and {totals.interactions:,} timeline entries "
                f"in {totals.seconds:,.1f} s."
            )
        )

    def _progress(self, total: int):
        def report(totals: bulk.Totals) -> None:
            rate = totals.customers / totals.seconds if totals.seconds else 0
            self.stdout.write(
                f"  {totals.customers:>10,} / {total:,} customers · {totals.interactions:>11,} timeline entries"
                f" · {totals.seconds:7.1f} s ({rate:,.0f} customers/s)"
            )
            self.stdout.flush()

        return report

    def _print_logins(self, staff) -> None:
        rows = [
            (
                login.spec.username,
                login.password_shown,
                login.spec.role,
                getattr(login.user.team, "name", "—"),
                login.user.extension,
            )
            for login in staff.logins
        ]
        header = ("username", "password", "role", "team", "ext.")
        widths = [max(_width(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

        def line(cells):
            return "  " + "  ".join(
                str(c) + " " * (w - _width(str(c))) for c, w in zip(cells, widths, strict=True)
            )

        self.stdout.write("")
        self.stdout.write(self.style.MIGRATE_HEADING("Demo logins (http://127.0.0.1:8000/accounts/login/)"))
        self.stdout.write(line(header))
        self.stdout.write(line("-" * w for w in widths))
        for row in rows:
            self.stdout.write(line(row))
        self.stdout.write(
            "Try the lookup with 0912-345-678 (王小明, a long timeline) or search for 王, 陳 or Chen."
        )


def _width(text: str) -> int:
    """Columns the text takes in a terminal: CJK characters are two wide."""
    return sum(2 if "\u2e80" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef" else 1 for ch in text)
