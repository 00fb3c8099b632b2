"""python manage.py seed_duplicates_demo"""

from django.core.management.base import BaseCommand

from customers import dedup
from customers.management import demo
from customers.models import ContactPoint, Customer
from customers.services import ContactInput, customer_create

SOURCE = "Duplicate demo"
# The screen-pop demo rings this number: a second customer with it would turn its card into a list.
SCREEN_POP_NUMBER = "+886912345678"


class Command(BaseCommand):
    help = (
        "Add a few customers who repeat a demo customer's phone or e-mail under a slightly different "
        "name, then run the duplicate scan, so the Duplicates page has pairs to review. Safe to run again."
    )

    def handle(self, *args, **options):
        demo.ensure_staff()
        if not Customer.objects.filter(source=SOURCE).exists():
            originals = list(
                Customer.objects.filter(
                    kind=Customer.Kind.PERSON, merged_into__isnull=True, owner__isnull=False
                )
                .exclude(contact_points__normalised=SCREEN_POP_NUMBER)
                .filter(contact_points__kind=ContactPoint.Kind.PHONE)
                .distinct()
                .order_by("created_at", "id")[:3]
            )
            for original in originals:
                # the same number in another format, as a second agent would have typed it
                phone = original.contact_points.filter(kind=ContactPoint.Kind.PHONE).first().normalised
                customer_create(
                    actor=None,
                    name=original.name,
                    owner=original.owner,
                    source=SOURCE,
                    contacts=ContactInput(phones=[phone]),
                )
            self.stdout.write(f"Created {len(originals)} look-alike customers.")
        counts = dedup.duplicates_scan()
        self.stdout.write(self.style.SUCCESS(f"Duplicate scan: {counts['open']} pairs to review."))
