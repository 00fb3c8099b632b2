"""Reads of tickets shared by the pages, the API, the 360 panel, the caller card and the SLA sweep."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet

from crm import roles
from crm.pagination import Page, paginate
from customers.permissions import customers_visible_to

from . import sla
from .models import BusinessCalendar, Category, Holiday, SlaPolicy, StatusTransition, Ticket, TicketComment


def tickets_visible_to(user, queryset=None) -> QuerySet:
    """The tickets `user` may see. Every page, API endpoint and panel starts from here.

    Nobody without the tickets.view_ticket permission sees any. Admins see all. Everyone else sees
    the tickets assigned to them, created or followed by them, those of their team's queue, and those
    of the customers they may see (customers.permissions.customers_visible_to). Managers' team queues
    are those of every team they belong to or manage, plus tickets assigned to those teams' members.
    """
    queryset = Ticket.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active or not user.has_perm("tickets.view_ticket"):
        return queryset.none()
    role = roles.user_role(user)
    if role == roles.ADMIN:
        return queryset
    followed = Exists(Ticket.followers.through.objects.filter(ticket_id=OuterRef("pk"), user_id=user.pk))
    condition = Q(assignee_id=user.pk) | Q(created_by_id=user.pk) | followed
    teams = team_ids(user)
    if teams:
        condition |= Q(team_id__in=teams)
        if role == roles.MANAGER:
            condition |= Q(assignee__team_id__in=teams)
    condition |= Q(customer_id__in=customers_visible_to(user).values("pk"))
    return queryset.filter(condition)


def team_ids(user) -> list[int]:
    """The teams whose queue the user works: their own, and for managers those they manage."""
    ids = set()
    if user.team_id:
        ids.add(user.team_id)
    if roles.user_role(user) in (roles.MANAGER, roles.ADMIN):
        ids.update(user.managed_teams.values_list("id", flat=True))
    return sorted(ids)


# The queue -------------------------------------------------------------------------------------

TAB_MY = "my"
TAB_TEAM = "team"
TAB_UNASSIGNED = "unassigned"
TAB_BREACHING = "breaching"
TAB_ALL = "all"
TABS = [TAB_MY, TAB_TEAM, TAB_UNASSIGNED, TAB_BREACHING, TAB_ALL]

SORTS = {
    "due": (F("sla_due").asc(nulls_last=True), "id"),
    "newest": ("-created_at", "-id"),
    "oldest": ("created_at", "id"),
    "updated": ("-updated_at", "-id"),
}


def ticket_queue(
    *,
    user,
    tab: str = TAB_MY,
    q: str = "",
    statuses=(),
    priority: str = "",
    assignee=None,
    unassigned: bool = False,
    team=None,
    category=None,
    sla_state: str = "",
    tag=None,
    source: str = "",
    customer=None,
    sort: str = "",
) -> QuerySet:
    """The tickets of a queue tab, filtered and sorted, with what a queue row shows."""
    queryset = tickets_visible_to(user).filter(merged_into__isnull=True)
    if tab == TAB_MY:
        queryset = queryset.filter(assignee_id=user.pk)
    elif tab == TAB_TEAM:
        queryset = queryset.filter(team_id__in=team_ids(user))
    elif tab == TAB_UNASSIGNED:
        queryset = queryset.filter(assignee__isnull=True)
    elif tab == TAB_BREACHING:
        queryset = queryset.filter(sla_state=Ticket.SlaState.WARNING)
    if statuses:
        queryset = queryset.filter(status__in=statuses)
    elif tab != TAB_ALL:
        queryset = queryset.filter(status__in=Ticket.UNRESOLVED)
    if priority:
        queryset = queryset.filter(priority=priority)
    if unassigned:
        queryset = queryset.filter(assignee__isnull=True)
    elif assignee:
        queryset = queryset.filter(assignee_id=assignee)
    if team:
        queryset = queryset.filter(team_id=team)
    if category:
        queryset = queryset.filter(category_id__in=category_descendants(category))
    if sla_state:
        queryset = queryset.filter(sla_state=sla_state)
    if tag:
        queryset = queryset.filter(tags__id=tag)
    if source:
        queryset = queryset.filter(source=source)
    if customer:
        queryset = queryset.filter(customer_id=customer)
    if q := (q or "").strip()[:100]:
        number = q.lstrip("#")
        if number.isdigit() and len(number) <= 18:
            queryset = queryset.filter(Q(number=int(number)) | Q(subject__icontains=q))
        else:
            queryset = queryset.filter(subject__icontains=q)
    default_sort = "newest" if tab == TAB_ALL else "due"
    return queryset.order_by(*SORTS.get(sort or default_sort, SORTS[default_sort]))


def with_queue_relations(queryset: QuerySet) -> QuerySet:
    return queryset.select_related("customer", "assignee", "team", "category").prefetch_related("tags")


def queue_page(queryset: QuerySet, page_param, per_page: int = 25) -> Page:
    """One page of a queue in two steps: the page's ids from the ticket table alone (filters, row access
    and order), then those rows with what a queue row shows. Joined in one query, PostgreSQL joins every
    matching ticket before sorting (thousands in a team queue) instead of the 26 it keeps. Three queries."""
    page = paginate(queryset.values_list("pk", flat=True), page_param, per_page)
    rows = {ticket.pk: ticket for ticket in with_queue_relations(Ticket.objects.filter(pk__in=page.items))}
    page.items = [rows[pk] for pk in page.items if pk in rows]
    return page


def ticket_detail(*, user, pk: int) -> Ticket:
    """The ticket with what its page header shows, or Ticket.DoesNotExist when not visible."""
    return (
        tickets_visible_to(user)
        .select_related("customer", "assignee", "team", "category", "created_by", "sla_policy", "merged_into")
        .prefetch_related("tags", "followers")
        .get(pk=pk)
    )


def ticket_thread(ticket: Ticket) -> list[TicketComment]:
    """Replies and notes, oldest first, with their authors and attachments: two queries."""
    return list(
        TicketComment.objects.filter(ticket=ticket)
        .select_related("author", "email")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def customer_open_tickets(*, user, customer, limit: int = 5) -> tuple[list[Ticket], bool]:
    """The customer's unresolved tickets the user may see, most urgent first, and whether there are more."""
    rows = list(
        tickets_visible_to(user)
        .filter(customer_id=customer.pk, status__in=Ticket.UNRESOLVED, merged_into__isnull=True)
        .select_related("assignee")
        .order_by(*SORTS["due"])[: limit + 1]
    )
    return rows[:limit], len(rows) > limit


# Configuration -------------------------------------------------------------------------------


def allowed_transitions() -> dict[str, set[str]]:
    transitions: dict[str, set[str]] = {}
    for from_status, to_status in StatusTransition.objects.values_list("from_status", "to_status"):
        transitions.setdefault(from_status, set()).add(to_status)
    return transitions


@dataclass
class CategoryNode:
    category: Category
    depth: int
    path: str


def category_tree(*, active_only: bool = False) -> list[CategoryNode]:
    """Every category depth-first, each with its depth and "Parent › Child" path: one query."""
    categories = list(Category.objects.order_by("order", "name", "id"))
    children: dict[int | None, list[Category]] = {}
    for category in categories:
        children.setdefault(category.parent_id, []).append(category)
    nodes: list[CategoryNode] = []

    def walk(parent_id, depth, prefix):
        for category in children.get(parent_id, []):
            if active_only and not category.active:
                continue
            path = f"{prefix} › {category.name}" if prefix else category.name
            nodes.append(CategoryNode(category, depth, path))
            walk(category.pk, depth + 1, path)

    walk(None, 0, "")
    return nodes


def category_descendants(category_id: int) -> list[int]:
    """The category and every category below it."""
    parents = dict(Category.objects.values_list("id", "parent_id"))
    found = {category_id}
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in found and child not in found:
                found.add(child)
                changed = True
    return sorted(found)


@dataclass
class SlaConfig:
    """Policies, the category tree and calendars, loaded once for many tickets (creation or a sweep)."""

    policies: list[SlaPolicy]
    category_parents: dict[int, int | None]
    schedules: dict[int, sla.Schedule]
    default_calendar_id: int | None

    def ancestors(self, category_id: int | None) -> list[int]:
        """The category, its parent, and so on up to the root."""
        chain = []
        while category_id is not None and category_id not in chain:
            chain.append(category_id)
            category_id = self.category_parents.get(category_id)
        return chain

    def policy_for(self, *, priority: str, category_id: int | None) -> SlaPolicy | None:
        """The most specific active policy: the nearest category first, then a matching priority."""
        chain = self.ancestors(category_id)
        best, best_rank = None, None
        for policy in self.policies:
            if policy.priority and policy.priority != priority:
                continue
            if policy.category_id is None:
                category_rank = 0
            elif policy.category_id in chain:
                category_rank = len(chain) - chain.index(policy.category_id)
            else:
                continue
            rank = (category_rank, 1 if policy.priority else 0, -policy.pk)
            if best_rank is None or rank > best_rank:
                best, best_rank = policy, rank
        return best

    def schedule_for(self, policy: SlaPolicy | None) -> sla.Schedule:
        calendar_id = (policy.calendar_id if policy else None) or self.default_calendar_id
        return self.schedules.get(calendar_id, sla.ALWAYS_OPEN)


def sla_config() -> SlaConfig:
    """Four queries, whatever the number of tickets the configuration is then applied to."""
    holidays: dict[int, list[dt.date]] = {}
    for calendar_id, date in Holiday.objects.values_list("calendar_id", "date"):
        holidays.setdefault(calendar_id, []).append(date)
    schedules, default_id = {}, None
    for calendar in BusinessCalendar.objects.all():
        schedules[calendar.pk] = calendar_schedule(calendar, holidays.get(calendar.pk, ()))
        if calendar.is_default:
            default_id = calendar.pk
    return SlaConfig(
        policies=list(SlaPolicy.objects.filter(active=True).order_by("id")),
        category_parents=dict(Category.objects.values_list("id", "parent_id")),
        schedules=schedules,
        default_calendar_id=default_id,
    )


def calendar_schedule(calendar: BusinessCalendar, holidays) -> sla.Schedule:
    schedule = sla.Schedule.from_config(time_zone=calendar.time_zone, hours=calendar.hours, holidays=holidays)
    return schedule if schedule.has_working_time else sla.ALWAYS_OPEN


def with_thread(queryset: QuerySet) -> QuerySet:
    """For the API: comments with their authors in one more query."""
    return queryset.prefetch_related(
        Prefetch(
            "comments", queryset=TicketComment.objects.select_related("author").order_by("created_at", "id")
        )
    )
