"""Who sees which quote, the quote pages' reads, and the customer's signed link."""

import datetime as dt

from django.core import signing
from django.db.models import Q

from customers.models import ContactPoint

from .. import selectors
from ..models import Deal, Quote

# Permissions and reads -------------------------------------------------------------------------


def quotes_visible_to(user, queryset=None):
    """The quotes of the deals `user` may see, if they may see quotes at all."""
    queryset = Quote.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.has_perm("sales.view_quote"):
        return queryset.none()
    return queryset.filter(deal__in=selectors.deals_visible_to(user).values("pk"))


def quote_detail(*, user, pk) -> Quote:
    """Quote.DoesNotExist when it is not there or not visible."""
    return (
        quotes_visible_to(user)
        .select_related("deal", "deal__pipeline", "deal__stage", "customer", "created_by", "decided_by")
        .prefetch_related("lines")
        .get(pk=pk)
    )


def quote_versions(*, quote: Quote) -> list[Quote]:
    return list(
        Quote.objects.filter(number=quote.number)
        .order_by("-version")
        .only("number", "version", "status", "total", "currency", "created_at")
    )


def deal_quotes(*, user, deal: Deal, limit=20) -> list[Quote]:
    return list(quotes_visible_to(user).filter(deal=deal).order_by("-created_at", "-id")[:limit])


def quote_list(*, user, status: str = "", q: str = ""):
    queryset = quotes_visible_to(user).select_related("customer", "deal", "created_by")
    # Without a status filter, superseded versions are left out: they are reached from the newest one.
    current = queryset.exclude(status=Quote.Status.SUPERSEDED)
    queryset = queryset.filter(status=status) if status else current
    if q:
        queryset = queryset.filter(
            Q(number__icontains=q) | Q(customer__name__icontains=q) | Q(deal__title__icontains=q)
        )
    return queryset.order_by("-created_at", "-id")


PUBLIC_SALT = "sales.quote-public"
PUBLIC_LINK_MAX_AGE = dt.timedelta(days=366)


def quote_public_token(quote: Quote) -> str:
    """The signed part of the link a customer opens to see, accept or decline one version of a quote."""
    return signing.dumps({"q": quote.pk, "v": quote.version}, salt=PUBLIC_SALT)


def quote_from_public_token(token: str) -> Quote | None:
    """The quote version a link points to; None when the link was tampered with or is too old."""
    try:
        data = signing.loads(token, salt=PUBLIC_SALT, max_age=PUBLIC_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("q"), int) or not isinstance(data.get("v"), int):
        return None
    return (
        Quote.objects.select_related("deal", "customer")
        .prefetch_related("lines")
        .filter(pk=data["q"], version=data["v"])
        .first()
    )


def customer_emails(customer) -> list[ContactPoint]:
    return list(customer.contact_points.filter(kind=ContactPoint.Kind.EMAIL).order_by("-is_primary", "id"))
