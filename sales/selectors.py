"""Reads of deals and tasks that pages, the API, the caller card and reports share.

Who sees which deal (`deals_visible_to`):
  * admins: every deal;
  * managers: the deals of the teams they manage or belong to, their own, and those shared with them;
  * sales reps: their own deals, deals shared with them, and the deals of the customers they own or
    that are shared with them (plus their team's when CUSTOMERS_REPS_SEE_TEAM is on, as for customers);
  * agents: read-only, the deals of the customers they may see (customers_visible_to): the caller
    card shows a caller's open deals; agents hold no permission to change deals.
Who sees which task (`tasks_visible_to`): admins all; managers their teams' tasks (by task team or
assignee team) and their own; everyone else the tasks assigned to them or created by them, and the
unassigned tasks of their team (e.g. call-backs after a missed call) so that someone picks them up.
"""

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, DecimalField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone

from crm import roles
from customers.models import CustomerGroupObjectPermission, CustomerUserObjectPermission
from customers.permissions import customers_visible_to

from .models import Deal, DealGroupObjectPermission, DealUserObjectPermission, Pipeline, Stage, Task

# Won and lost columns show the deals closed this recently, so the board does not grow forever.
CLOSED_SHOWN_FOR = dt.timedelta(days=30)
CARDS_PER_COLUMN = 50
CLOSED_CARDS_PER_COLUMN = 20
BOARD_ORDER = (F("expected_close_date").asc(nulls_last=True), F("id").desc())


def team_ids(user) -> list[int]:
    ids = set(user.managed_teams.values_list("id", flat=True))
    if user.team_id:
        ids.add(user.team_id)
    return list(ids)


def _shared(model_user, model_group, user, pk_ref, codename):
    return Exists(
        model_user.objects.filter(user=user, content_object=OuterRef(pk_ref), permission__codename=codename)
    ) | Exists(
        model_group.objects.filter(
            group__in=user.groups.all(), content_object=OuterRef(pk_ref), permission__codename=codename
        )
    )


def deals_visible_to(user, queryset=None):
    """The deals `user` may see; see the module's docstring for the rules."""
    queryset = Deal.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active or not user.has_perm("sales.view_deal"):
        return queryset.none()
    role = roles.user_role(user)
    if role == roles.ADMIN:
        return queryset
    deal_shared = _shared(DealUserObjectPermission, DealGroupObjectPermission, user, "pk", "view_deal")
    if role == roles.MANAGER:
        return queryset.filter(Q(team_id__in=team_ids(user)) | Q(owner=user) | deal_shared)
    if role == roles.SALES_REP:
        customer_shared = _shared(
            CustomerUserObjectPermission, CustomerGroupObjectPermission, user, "customer_id", "view_customer"
        )
        condition = Q(owner=user) | Q(customer__owner=user) | deal_shared | customer_shared
        if settings.CUSTOMERS_REPS_SEE_TEAM and user.team_id:
            condition |= Q(team_id=user.team_id)
        return queryset.filter(condition)
    if role == roles.AGENT:
        return queryset.filter(customer_id__in=customers_visible_to(user).values("pk"))
    return queryset.none()


def deal_detail(*, user, pk) -> Deal:
    """The deal with what its page shows; Deal.DoesNotExist when it is not there or not visible."""
    return (
        deals_visible_to(user)
        .select_related("customer", "organisation", "pipeline", "stage", "owner", "team", "lost_reason")
        .prefetch_related("tags")
        .get(pk=pk)
    )


def tasks_visible_to(user, queryset=None):
    queryset = Task.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active or not user.has_perm("sales.view_task"):
        return queryset.none()
    role = roles.user_role(user)
    if role == roles.ADMIN:
        return queryset
    mine = Q(assignee=user) | Q(created_by=user)
    if role == roles.MANAGER:
        teams = team_ids(user)
        return queryset.filter(mine | Q(team_id__in=teams) | Q(assignee__team_id__in=teams))
    if user.team_id:
        mine |= Q(assignee__isnull=True, team_id=user.team_id)
    return queryset.filter(mine)


# The board -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DealFilters:
    owner: int | None = None
    team: int | None = None
    close_month: dt.date | None = None  # the first day of the month
    tag: int | None = None
    q: str = ""
    stage: int | None = None
    status: str = ""

    def apply(self, queryset):
        if self.owner:
            queryset = queryset.filter(owner_id=self.owner)
        if self.team:
            queryset = queryset.filter(team_id=self.team)
        if self.close_month:
            start = self.close_month.replace(day=1)
            end = (start + dt.timedelta(days=32)).replace(day=1)
            queryset = queryset.filter(expected_close_date__gte=start, expected_close_date__lt=end)
        if self.tag:
            queryset = queryset.filter(
                Exists(Deal.tags.through.objects.filter(deal_id=OuterRef("pk"), tag_id=self.tag))
            )
        if self.q:
            queryset = queryset.filter(Q(title__icontains=self.q) | Q(customer__name__icontains=self.q))
        if self.stage:
            queryset = queryset.filter(stage_id=self.stage)
        if self.status:
            queryset = queryset.filter(status=self.status)
        return queryset


@dataclass
class Column:
    stage: Stage
    deals: list = field(default_factory=list)
    count: int = 0
    totals: dict = field(default_factory=dict)  # currency -> amount
    weighted: dict = field(default_factory=dict)  # currency -> amount × probability
    has_more: bool = False
    rotting: int = 0

    @property
    def closed_recently_only(self):
        return self.stage.is_closed


@dataclass
class Board:
    pipeline: Pipeline
    columns: list[Column]
    totals: dict
    weighted: dict
    count: int


def board_queryset(*, user, pipeline, filters: DealFilters, now=None):
    now = now or timezone.now()
    queryset = deals_visible_to(user).filter(pipeline=pipeline)
    queryset = queryset.filter(Q(status=Deal.Status.OPEN) | Q(closed_at__gte=now - CLOSED_SHOWN_FOR))
    return filters.apply(queryset)


WEIGHTED = ExpressionWrapper(
    F("amount") * F("stage__probability") / Decimal(100),
    output_field=DecimalField(max_digits=20, decimal_places=2),
)


def board_totals(*, user, pipeline, filters: DealFilters, now=None) -> dict[int, dict]:
    """Per stage: count, and amount and weighted amount per currency. One query."""
    rows = (
        board_queryset(user=user, pipeline=pipeline, filters=filters, now=now)
        .order_by()
        .values("stage_id", "currency")
        .annotate(count=Count("id"), total=Sum("amount"), weighted=Sum(WEIGHTED))
    )
    totals: dict[int, dict] = {}
    for row in rows:
        entry = totals.setdefault(row["stage_id"], {"count": 0, "totals": {}, "weighted": {}})
        entry["count"] += row["count"]
        entry["totals"][row["currency"]] = row["total"] or Decimal(0)
        entry["weighted"][row["currency"]] = row["weighted"] or Decimal(0)
    return totals


# What a card shows: loading only this keeps a board of hundreds of cards light.
CARD_FIELDS = (
    "title",
    "amount",
    "currency",
    "expected_close_date",
    "pipeline_id",
    "stage_id",
    "status",
    "version",
    "last_activity_at",
    "lost_reason_id",
    "customer__name",
    "owner__username",
    "owner__first_name",
    "owner__last_name",
)


def board_cards(*, user, pipeline, filters: DealFilters, offset=0, limit=CARDS_PER_COLUMN, now=None) -> dict:
    """Cards offset+1 … offset+limit (plus one, to know if there are more) of every column, in two queries.

    The first ranks the deals of each column by id only (no joins to sort through); the second loads
    the few cards shown.
    """
    ranked = (
        board_queryset(user=user, pipeline=pipeline, filters=filters, now=now)
        .annotate(position=Window(RowNumber(), partition_by=[F("stage_id")], order_by=BOARD_ORDER))
        .filter(position__gt=offset, position__lte=offset + limit + 1)
        .order_by()
        .values_list("pk", "stage_id", "position")
    )
    ranks = {pk: (stage_id, position) for pk, stage_id, position in ranked}
    deals = Deal.objects.filter(pk__in=list(ranks)).select_related("customer", "owner").only(*CARD_FIELDS)
    cards: dict[int, list] = {}
    for deal in sorted(deals, key=lambda d: ranks[d.pk]):
        cards.setdefault(deal.stage_id, []).append(deal)
    return cards


def board(*, user, pipeline: Pipeline, filters: DealFilters, per_column=CARDS_PER_COLUMN, now=None) -> Board:
    now = now or timezone.now()
    stages = list(pipeline.stages.all())
    cards = board_cards(user=user, pipeline=pipeline, filters=filters, limit=per_column, now=now)
    totals = board_totals(user=user, pipeline=pipeline, filters=filters, now=now)
    columns, all_totals, all_weighted, count = [], {}, {}, 0
    for stage in stages:
        shown = min(per_column, CLOSED_CARDS_PER_COLUMN) if stage.is_closed else per_column
        deals = cards.get(stage.pk, [])[: shown + 1]
        for deal in deals:
            deal.stage = stage
            deal.rotting = deal.is_rotting(now)
        entry = totals.get(stage.pk, {"count": 0, "totals": {}, "weighted": {}})
        columns.append(
            Column(
                stage=stage,
                deals=deals[:shown],
                count=entry["count"],
                totals=entry["totals"],
                weighted=entry["weighted"],
                has_more=len(deals) > shown,
            )
        )
        if not stage.is_closed:
            count += entry["count"]
            for currency, amount in entry["totals"].items():
                all_totals[currency] = all_totals.get(currency, 0) + amount
            for currency, amount in entry["weighted"].items():
                all_weighted[currency] = all_weighted.get(currency, 0) + amount
    return Board(pipeline=pipeline, columns=columns, totals=all_totals, weighted=all_weighted, count=count)


def column_cards(
    *, user, pipeline, stage, filters: DealFilters, offset: int, limit=CARDS_PER_COLUMN, now=None
):
    """One column's next cards ("load more"): (deals, has_more)."""
    only_stage = DealFilters(**{**filters.__dict__, "stage": stage.pk})
    deals = board_cards(
        user=user, pipeline=pipeline, filters=only_stage, offset=offset, limit=limit, now=now
    ).get(stage.pk, [])
    for deal in deals:
        deal.stage = stage
        deal.rotting = deal.is_rotting(now)
    return deals[:limit], len(deals) > limit


def pipelines_for_board():
    return Pipeline.objects.filter(active=True)


# The list --------------------------------------------------------------------------------------

DEAL_SORTS = {
    "newest": ("-created_at", "-id"),
    "title": ("title", "id"),
    "amount": ("amount", "id"),
    "-amount": ("-amount", "-id"),
    "close": (F("expected_close_date").asc(nulls_last=True), "id"),
    "-close": (F("expected_close_date").desc(nulls_last=True), "-id"),
    "stage": ("stage__order", "id"),
    "updated": ("-updated_at", "-id"),
}


def deal_list(*, user, filters: DealFilters, pipeline=None, sort="newest"):
    queryset = deals_visible_to(user)
    if pipeline is not None:
        queryset = queryset.filter(pipeline=pipeline)
    queryset = filters.apply(queryset)
    return queryset.select_related("customer", "owner", "team", "stage", "pipeline").order_by(
        *DEAL_SORTS.get(sort, DEAL_SORTS["newest"])
    )


def customer_deals(*, user, customer, limit=10):
    """A customer's open deals, newest first, as the 360 page and the caller card show them."""
    return list(
        deals_visible_to(user)
        .filter(customer=customer, status=Deal.Status.OPEN)
        .select_related("stage", "owner")
        .order_by("-created_at", "-id")[:limit]
    )


def deal_timeline(*, deal, limit=30):
    """The timeline entries about this deal and its quotes, newest first."""
    from django.contrib.contenttypes.models import ContentType

    from customers.models import Interaction

    from .models import Quote

    about_deal = Q(subject_type=ContentType.objects.get_for_model(Deal), subject_id=deal.pk)
    about_quotes = Q(
        subject_type=ContentType.objects.get_for_model(Quote),
        subject_id__in=Quote.objects.filter(deal_id=deal.pk).values("pk"),
    )
    return list(
        Interaction.objects.filter(about_deal | about_quotes, customer_id=deal.customer_id)
        .select_related("actor")
        .order_by("-occurred_at", "-id")[:limit]
    )


# Tasks -----------------------------------------------------------------------------------------

MY_DAY_LIMIT = 50
UPCOMING_DAYS = 7


@dataclass
class MyDay:
    overdue: list
    today: list
    upcoming: list
    unassigned: list
    counts: dict
    day_start: dt.datetime
    day_end: dt.datetime


def _task_relations(queryset):
    return queryset.select_related("customer", "deal", "assignee", "cadence")


def my_day(*, user, now=None, limit=MY_DAY_LIMIT) -> MyDay:
    """The user's open tasks: overdue (before today), today, the next days, and their team's unassigned."""
    now = now or timezone.now()
    local_now = timezone.localtime(now)
    day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    day_end = day_start + dt.timedelta(days=1)
    upcoming_end = day_start + dt.timedelta(days=1 + UPCOMING_DAYS)
    mine = _task_relations(Task.objects.filter(assignee=user, done_at__isnull=True)).order_by(
        "due_at", "-priority", "id"
    )
    overdue = Q(due_at__lt=day_start)
    today = Q(due_at__gte=day_start, due_at__lt=day_end)
    upcoming = Q(due_at__gte=day_end, due_at__lt=upcoming_end)
    unassigned_qs = Task.objects.none()
    if user.team_id:
        unassigned_qs = _task_relations(
            Task.objects.filter(
                assignee__isnull=True, team_id=user.team_id, done_at__isnull=True, due_at__lt=day_end
            )
        ).order_by("due_at", "id")
    counts = Task.objects.filter(assignee=user, done_at__isnull=True).aggregate(
        overdue=Count("id", filter=overdue),
        today=Count("id", filter=today),
        upcoming=Count("id", filter=upcoming),
    )
    counts["unassigned"] = unassigned_qs.count() if user.team_id else 0
    return MyDay(
        overdue=list(mine.filter(overdue)[:limit]),
        today=list(mine.filter(today)[:limit]),
        upcoming=list(mine.filter(upcoming)[:limit]),
        unassigned=list(unassigned_qs[:limit]),
        counts=counts,
        day_start=day_start,
        day_end=day_end,
    )


def customer_tasks(*, user, customer, limit=10):
    return list(
        _task_relations(tasks_visible_to(user).filter(customer=customer, done_at__isnull=True)).order_by(
            "due_at", "id"
        )[:limit]
    )


def deal_tasks(*, user, deal, limit=20):
    return list(
        _task_relations(tasks_visible_to(user).filter(deal=deal)).order_by(
            F("done_at").desc(nulls_first=True), "due_at", "id"
        )[:limit]
    )


def task_list(*, user, assignee=None, state="open", now=None):
    now = now or timezone.now()
    queryset = _task_relations(tasks_visible_to(user))
    if assignee:
        queryset = queryset.filter(assignee_id=assignee)
    if state == "open":
        queryset = queryset.filter(done_at__isnull=True).order_by("due_at", "id")
    elif state == "overdue":
        queryset = queryset.filter(done_at__isnull=True, due_at__lt=now).order_by("due_at", "id")
    elif state == "done":
        queryset = queryset.filter(done_at__isnull=False).order_by("-done_at", "-id")
    else:
        queryset = queryset.order_by("-due_at", "-id")
    return queryset
