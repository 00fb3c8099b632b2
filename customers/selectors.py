"""Reads of customers and their timeline, shared by pages, the API, exports and reports."""

import base64
import datetime as dt
import json
from dataclasses import dataclass

from django.contrib.postgres.fields import ArrayField
from django.db import connection
from django.db.models import Exists, F, Func, OuterRef, Prefetch, Q, QuerySet, TextField, Value
from django.db.models.functions import Coalesce, StrIndex, Upper

from crm import roles

from . import segments
from .models import Consent, ContactPoint, Customer, Interaction, Segment, SegmentMember, Tag
from .normalise import phone_normalise, phone_query_digits
from .permissions import customers_visible_to

SORTS = {
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "name": ("name", "id"),
    "-name": ("-name", "-id"),
    "updated": ("-updated_at", "-id"),
}


def customer_list(
    *, user, q: str = "", owner=None, team=None, tag=None, lifecycle: str = "", sort: str = "newest"
):
    """The customers `user` may see, searched, filtered and sorted, ready for a list page."""
    queryset = customers_visible_to(user)
    queryset = customer_search(queryset, q)
    if owner:
        queryset = queryset.filter(owner_id=owner)
    if team:
        queryset = queryset.filter(team_id=team)
    if tag:
        queryset = queryset.filter(tags__id=tag)
    if lifecycle:
        queryset = queryset.filter(lifecycle_stage=lifecycle)
    return ordered_for_list(queryset, sort)


def ordered_for_list(queryset: QuerySet, sort: str = "newest") -> QuerySet:
    """`queryset` in the order `sort` names (see SORTS) with what a list shows of each customer,
    planned so that a name search stays fast whatever else filters it (see below)."""
    ordering = SORTS.get(sort, SORTS["newest"])
    searched = NAME_SEARCH in queryset.query.annotations and is_postgres()
    if not searched or (sort == "newest" and _newest_customers_fill_a_page(queryset)):
        return with_list_relations(queryset.order_by(*ordering))
    # Joining owners, teams and organisations to thousands of matches before sorting them costs
    # more than fetching them for one page afterwards.
    return (
        with_list_relations(queryset.order_by(*sorted_after_filtering(ordering)))
        .select_related(None)
        .prefetch_related("owner", "team", "organisation")
    )


# For a name search PostgreSQL often walks the created_at (or name) index and tests each row until
# a page is full. That is quick when many customers match (陳) and slow when few do (雅婷: tens of
# milliseconds) or when the other filters rarely meet the search (a Taipei rep searching for 张,
# whose customers are all in Taiwan: the whole table, seconds). So the newest customers are probed
# first: when they already hold a page of results the walk is short; otherwise the rows the search
# index finds are sorted instead, which is bounded by the number of matches.
PROBED_CUSTOMERS = 2500
PAGE_ROWS = 26


def _newest_customers_fill_a_page(queryset: QuerySet) -> bool:
    # The bound is fetched first and passed as a value: as a subquery the planner cannot tell how
    # few rows it leaves and reads the whole table instead.
    bound = list(
        Customer.objects.order_by("-created_at").values_list("created_at", flat=True)[
            PROBED_CUSTOMERS - 1 : PROBED_CUSTOMERS
        ]
    )
    if not bound:  # so few customers that sorting the matches is cheap anyway
        return False
    return queryset.filter(created_at__gte=bound[0]).order_by()[:PAGE_ROWS].count() >= PAGE_ROWS


def sorted_after_filtering(ordering):
    """The same order, written so that no index can produce it."""
    first, *rest = ordering
    field = first.lstrip("-")
    expression = Coalesce(F(field), F(field))
    return [expression.desc() if first.startswith("-") else expression.asc(), *rest]


def _list_prefetches():
    return [
        "tags",
        Prefetch(
            "contact_points",
            queryset=ContactPoint.objects.filter(kind__in=[ContactPoint.Kind.PHONE, ContactPoint.Kind.EMAIL]),
        ),
    ]


def with_list_relations(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("owner", "team", "organisation").prefetch_related(*_list_prefetches())


def classify_query(q: str) -> str:
    """What a search box text looks like: an e-mail, a phone number, or a name or tag."""
    text = q.strip()
    if "@" in text:
        return "email"
    digits = sum(ch.isdigit() for ch in text)
    if digits >= 3 and digits >= len(text.replace(" ", "")) * 0.6:
        return "phone"
    return "name"


def customer_search(queryset: QuerySet, q: str) -> QuerySet:
    """One search box: partial name (Chinese or Latin), phone in any format, e-mail, or a tag name.

    On PostgreSQL the name and number filters are served by trigram GIN indexes; on SQLite they fall
    back to LIKE scans.
    """
    text = (q or "").strip()[:100]
    if not text:
        return queryset
    kind = classify_query(text)
    if kind == "email":
        return queryset.filter(
            pk__in=ContactPoint.objects.filter(
                kind=ContactPoint.Kind.EMAIL, normalised__contains=text.lower()
            ).values("customer_id")
        )
    if kind == "phone":
        try:
            e164, _extension = phone_normalise(text)
        except Exception:  # noqa: BLE001 - a partial number is a normal search, not an error
            e164 = None
        if e164:
            matches = ContactPoint.objects.filter(kind=ContactPoint.Kind.PHONE, normalised=e164)
        else:
            matches = ContactPoint.objects.filter(
                kind=ContactPoint.Kind.PHONE, normalised__contains=phone_query_digits(text)
            )
        return queryset.filter(pk__in=matches.values("customer_id"))
    if text.startswith("#"):
        return queryset.filter(tags__name__iexact=text[1:])
    tag = Tag.objects.filter(name__iexact=text).first()
    if tag is not None:
        return queryset.filter(tags=tag)
    return name_search(queryset, text)


NAME_SEARCH = "name_search"  # the alias name_search() leaves on a queryset, for customer_list()


class _NameGrams(Func):
    """The upper-cased name's single characters and pairs of adjacent ones (migration 0003)."""

    function = "customer_name_grams"
    output_field = ArrayField(TextField())


def name_search(queryset: QuerySet, text: str) -> QuerySet:
    """Names containing `text`, ignoring case.

    On PostgreSQL one or two characters (a surname, a given name: 王, 小明) are looked up in the
    name-grams GIN index, which gives exactly the rows `icontains` would: trigram indexes only
    help from three characters on, and a LIKE scan of a million names is far too slow. STRPOS
    repeats the test cheaply for plans that walk another index and filter row by row; written as
    "not 0" it leaves the planner's estimate of how many rows match as it was.
    """
    if not is_postgres():
        return queryset.filter(name__icontains=text)
    queryset = queryset.alias(**{NAME_SEARCH: Value(text)})
    upper = text.upper()
    if len(text) <= 2 and len(upper) == len(text):
        return (
            queryset.alias(name_grams=_NameGrams("name"), name_position=StrIndex(Upper("name"), Value(upper)))
            .filter(name_grams__contains=[upper])
            .exclude(name_position=0)
        )
    return queryset.filter(name__icontains=text)


def customer_detail(*, user, pk: int) -> Customer:
    """The customer with what the header of the 360 page shows, or DoesNotExist if not visible."""
    return (
        customers_visible_to(user)
        .select_related("owner", "team", "organisation")
        .prefetch_related("tags", "contact_points", "social_identities")
        .get(pk=pk)
    )


def consent_current(customer: Customer) -> list[Consent]:
    """The newest grant or withdrawal per purpose and channel."""
    current = {}
    for consent in customer.consents.select_related("recorded_by").order_by("-occurred_at", "-id"):
        current.setdefault((consent.purpose, consent.channel), consent)
    return sorted(current.values(), key=lambda c: (c.purpose, c.channel))


@dataclass
class TimelinePage:
    entries: list[Interaction]
    next_cursor: str | None


def encode_cursor(entry: Interaction) -> str:
    raw = json.dumps([entry.occurred_at.isoformat(), entry.pk]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at, pk = json.loads(raw)
        return dt.datetime.fromisoformat(occurred_at), int(pk)
    except (ValueError, TypeError, json.JSONDecodeError):
        return None


def timeline_page(
    *, customer: Customer, cursor: str | None = None, kinds=(), channels=(), limit: int = 20
) -> TimelinePage:
    """One page of the customer's timeline, newest first, after `cursor` (keyset, never OFFSET).

    Costs one query whatever the length of the history.
    """
    queryset = Interaction.objects.filter(customer=customer).select_related("actor")
    if kinds:
        queryset = queryset.filter(kind__in=kinds)
    if channels:
        queryset = queryset.filter(channel__in=channels)
    position = decode_cursor(cursor) if cursor else None
    if position is not None:
        occurred_at, pk = position
        queryset = queryset.filter(occurred_at__lte=occurred_at).exclude(occurred_at=occurred_at, pk__gte=pk)
    entries = list(queryset.order_by("-occurred_at", "-id")[: limit + 1])
    has_more = len(entries) > limit
    entries = entries[:limit]
    return TimelinePage(entries=entries, next_cursor=encode_cursor(entries[-1]) if has_more else None)


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# --- segments ---------------------------------------------------------------------------------------


def segments_visible_to(user) -> QuerySet[Segment]:
    """The segments `user` may use: their own, shared ones, their managed teams' and, for admins, all."""
    if not user.is_authenticated or not user.is_active or not user.has_perm("customers.view_segment"):
        return Segment.objects.none()
    if roles.is_admin(user):
        return Segment.objects.all()
    condition = Q(owner=user) | Q(shared=True)
    if roles.is_manager(user):
        condition |= Q(team_id__in=list(user.managed_teams.values_list("id", flat=True)))
    return Segment.objects.filter(condition)


def segment_editable_by(user, segment: Segment) -> bool:
    """Owners edit their segments, managers their teams', admins all."""
    if not user.has_perm("customers.change_segment"):
        return False
    if roles.is_admin(user) or segment.owner_id == user.pk:
        return True
    return bool(
        roles.is_manager(user) and segment.team_id and user.managed_teams.filter(pk=segment.team_id).exists()
    )


def segment_customers(*, segment: Segment) -> QuerySet[Customer]:
    """Every customer in the segment, as one query (apply customers_visible_to(user) when acting for a
    user). A static list's members, or the customers its rules match at the time of evaluation."""
    if segment.is_static:
        return Customer.objects.filter(
            Exists(SegmentMember.objects.filter(segment_id=segment.pk, customer_id=OuterRef("pk"))),
            merged_into__isnull=True,
        )
    return segments.rules_queryset(segments.validate_rules(segment.rules))


def segment_count(*, segment: Segment, user=None) -> int:
    """How many customers the segment holds; with `user`, how many of them that user may see. One query."""
    queryset = segment_customers(segment=segment)
    if user is not None:
        queryset = customers_visible_to(user, queryset)
    return queryset.order_by().count()


def rules_count(*, rules: dict, user) -> int:
    """How many customers that `user` may see match validated `rules` (the builder's live count)."""
    return customers_visible_to(user, segments.rules_queryset(rules)).order_by().count()


def segment_members_page(*, segment: Segment, user) -> QuerySet[Customer]:
    """The segment's customers that `user` may see, as the customer list shows them."""
    return with_list_relations(
        customers_visible_to(user, segment_customers(segment=segment)).order_by("name", "id")
    )
