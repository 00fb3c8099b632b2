"""Row locks on customers, taken in one order (by primary key) so that two writers never deadlock.

A merge locks both customers before it reads their state: a second merge or an edit of either waits
until the first commits and then sees the merged state. New rows pointing at a locked customer (a
timeline entry, a deal) wait too, because inserting a reference takes a key-share lock that conflicts
with FOR UPDATE, so no row can slip onto a customer while its rows are being moved. On SQLite (the
embedded demo, one writer at a time) this is a plain read.
"""

from .models import Customer


def customers_lock(pks) -> dict[int, Customer]:
    """Lock the customers with these ids, in ascending id order; returns them by id."""
    ids = sorted({int(pk) for pk in pks})
    locked = Customer.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    return {customer.pk: customer for customer in locked}
