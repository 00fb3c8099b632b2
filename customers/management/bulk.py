"""Load many generated customers fast: COPY on PostgreSQL, batched bulk_create elsewhere.

The rows are built here rather than through customers.services because a million calls of the
write path would take hours; they are shaped exactly like what the services write (normalised
E.164 numbers, a "Profile created" entry first on every timeline). Work is done in chunks, each
in its own transaction, so memory stays bounded and an interrupted load keeps what it committed.
"""

import datetime as dt
import json
import random
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.utils import timezone

from customers.models import ContactPoint, Customer, Interaction

from . import demo_data as d

GENERATED = {"generated_by": "seed_demo"}
CHUNK = 10_000
# Below this many customers the GIN indexes are cheaper to maintain than to rebuild.
REBUILD_GIN_FROM = 50_000

CUSTOMER_COLUMNS = (
    "id",
    "kind",
    "name",
    "organisation_id",
    "owner_id",
    "team_id",
    "lifecycle_stage",
    "source",
    "custom_attributes",
    "created_at",
    "updated_at",
)
CONTACT_COLUMNS = (
    "id",
    "customer_id",
    "kind",
    "value",
    "normalised",
    "extension",
    "label",
    "is_primary",
    "created_at",
)
TAG_LINK_COLUMNS = ("id", "customer_id", "tag_id")
INTERACTION_COLUMNS = (
    "id",
    "customer_id",
    "occurred_at",
    "kind",
    "channel",
    "summary",
    "actor_id",
    "subject_type_id",
    "subject_id",
    "data",
    "created_at",
)
TagLink = Customer.tags.through


@dataclass
class Staff:
    """Who owns and works on generated customers, by market ("tw", "cn")."""

    owners: dict[str, list[tuple[int, int | None]]]  # market -> [(user id, team id)]
    agents: dict[str, list[int]]  # market -> [user id]
    tags: dict[str, int]  # tag name -> id


@dataclass
class Totals:
    customers: int = 0
    contact_points: int = 0
    tag_links: int = 0
    interactions: int = 0
    seconds: float = 0.0
    rebuilt_indexes: list[str] = field(default_factory=list)
    finishing_seconds: float = 0.0  # rebuilding dropped indexes and ANALYZE


def generated_count() -> int:
    return Customer.objects.filter(custom_attributes__generated_by=GENERATED["generated_by"]).count()


def writer_for_connection():
    return PostgresWriter() if connection.vendor == "postgresql" else OrmWriter()


class OrmWriter:
    """Any database Django supports: reserve ids as MAX(id)+1 and insert with bulk_create."""

    batch_size = 500

    def reserve(self, model, count: int) -> int:
        last = model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        return last + 1

    def json(self, value: dict):
        return value

    def write(self, model, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
        objects = (model(**dict(zip(columns, row, strict=True))) for row in rows)
        batch = []
        for obj in objects:
            batch.append(obj)
            if len(batch) >= self.batch_size:
                model.objects.bulk_create(batch)
                batch = []
        if batch:
            model.objects.bulk_create(batch)

    def begin(self, *, drop_gin: bool) -> list[str]:
        return []

    def finish(self, dropped: list[str]) -> None:
        """Nothing to rebuild or analyse."""


class PostgresWriter:
    """COPY rows in with ids reserved from the table's own sequence."""

    def reserve(self, model, count: int) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [model._meta.db_table])
            (sequence,) = cursor.fetchone()
            # One statement, so a concurrent insert cannot land inside the reserved block.
            cursor.execute("SELECT setval(%s, nextval(%s) + %s - 1)", [sequence, sequence, count])
            (last,) = cursor.fetchone()
        return last - count + 1

    def json(self, value: dict):
        return json.dumps(value, ensure_ascii=False) if value else "{}"

    def write(self, model, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
        # Columns the generator does not know about (added to the model later) get their defaults.
        extra = [f for f in model._meta.concrete_fields if f.column not in columns]
        extra_values = tuple(f.get_db_prep_save(f.get_default(), connection) for f in extra)
        names = ", ".join(connection.ops.quote_name(c) for c in (*columns, *(f.column for f in extra)))
        sql = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({names}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(sql) as copy:
            if extra_values:
                for row in rows:
                    copy.write_row(row + extra_values)
            else:
                for row in rows:
                    copy.write_row(row)

    def begin(self, *, drop_gin: bool) -> list[str]:
        """Prepare the session; with `drop_gin`, drop the GIN indexes of the loaded tables and
        return the statements that rebuild them (much faster than updating them row by row)."""
        tables = [m._meta.db_table for m in (Customer, ContactPoint, Interaction, TagLink)]
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit TO off")
            if not drop_gin:
                return []
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes "
                "WHERE schemaname = current_schema() AND tablename = ANY(%s) AND indexdef LIKE %s",
                [tables, "% USING gin %"],
            )
            indexes = cursor.fetchall()
            for name, _definition in indexes:
                cursor.execute(f"DROP INDEX IF EXISTS {connection.ops.quote_name(name)}")
        return [definition for _name, definition in indexes]

    def finish(self, dropped: list[str]) -> None:
        """Rebuild what begin() dropped, then refresh the planner's statistics. After a big load
        VACUUM as well: it sets the hint bits and the visibility map now, instead of the first
        queries and an autovacuum in the middle of the day paying for them."""
        tables = [m._meta.db_table for m in (Customer, ContactPoint, Interaction, TagLink)]
        command = "VACUUM (ANALYZE)" if dropped and not connection.in_atomic_block else "ANALYZE"
        with connection.cursor() as cursor:
            cursor.execute("SET maintenance_work_mem TO '1GB'")
            for definition in dropped:
                cursor.execute(definition.replace("CREATE INDEX ", "CREATE INDEX IF NOT EXISTS ", 1))
            for table in tables:
                cursor.execute(f"{command} {connection.ops.quote_name(table)}")
            cursor.execute("RESET maintenance_work_mem")
            cursor.execute("RESET synchronous_commit")


def load_customers(
    *,
    count: int,
    interactions_per_customer: int,
    staff: Staff,
    progress: Callable[[Totals], None] = lambda totals: None,
    chunk: int = CHUNK,
) -> Totals:
    """Add `count` generated customers with contact points, tags and about
    `interactions_per_customer` timeline entries each."""
    writer = writer_for_connection()
    totals = Totals()
    started = time.monotonic()
    rebuild = writer.begin(drop_gin=count >= REBUILD_GIN_FROM)
    totals.rebuilt_indexes = rebuild
    try:
        done = 0
        while done < count:
            size = min(chunk, count - done)
            with transaction.atomic():
                _load_chunk(writer, size, interactions_per_customer, staff, totals)
            done += size
            totals.seconds = time.monotonic() - started
            progress(totals)
    finally:
        finishing = time.monotonic()
        writer.finish(rebuild)
        totals.finishing_seconds = time.monotonic() - finishing
    totals.seconds = time.monotonic() - started
    return totals


def _load_chunk(writer, size: int, per_customer: int, staff: Staff, totals: Totals) -> None:
    now = timezone.now()
    first_id = writer.reserve(Customer, size)
    rng = random.Random(first_id)
    customers, contacts, links, entries = [], [], [], []
    organisations = {d.TW: [], d.CN: [], d.EN: []}
    generated = writer.json(GENERATED)
    tags = staff.tags
    for customer_id in range(first_id, first_id + size):
        market = rng.choices((d.TW, d.CN, d.EN), cum_weights=(55, 88, 100))[0]
        is_org = rng.random() < 0.04
        name = d.organisation_name(rng, market) if is_org else d.person_name(rng, market)
        owner_id, team_id = (
            rng.choice(staff.owners[_staff_market(market)]) if rng.random() < 0.9 else (None, None)
        )
        stage = d.lifecycle(rng)
        created_at = now - dt.timedelta(seconds=rng.randrange(730 * 86400))
        organisation_id = None
        if not is_org and organisations[market] and rng.random() < 0.08:
            organisation_id = rng.choice(organisations[market])
        customers.append(
            (
                customer_id,
                "organisation" if is_org else "person",
                name,
                organisation_id,
                owner_id,
                team_id,
                stage,
                rng.choice(d.SOURCES[market]),
                generated,
                created_at,
                created_at,
            )
        )
        if is_org:
            organisations[market].append(customer_id)
        contacts.extend(_contact_rows(rng, customer_id, market, is_org, name, created_at))
        links.extend(
            (customer_id, tags[tag]) for tag in _tag_names(rng, market, is_org, stage) if tag in tags
        )
        entries.extend(
            _timeline_rows(rng, writer, customer_id, market, owner_id, staff, created_at, now, per_customer)
        )
    writer.write(Customer, CUSTOMER_COLUMNS, customers)
    _write_with_ids(writer, ContactPoint, CONTACT_COLUMNS, contacts)
    _write_with_ids(writer, TagLink, TAG_LINK_COLUMNS, links)
    _write_with_ids(writer, Interaction, INTERACTION_COLUMNS, entries)
    _last_interaction_set(entries)
    totals.customers += len(customers)
    totals.contact_points += len(contacts)
    totals.tag_links += len(links)
    totals.interactions += len(entries)


def _write_with_ids(writer, model, columns, rows: list[tuple]) -> None:
    if not rows:
        return
    first = writer.reserve(model, len(rows))
    writer.write(model, columns, ((first + i, *row) for i, row in enumerate(rows)))


def _last_interaction_set(rows: list[tuple]) -> None:
    """Customer.last_interaction_at for timeline rows (customer_id, occurred_at, ...) written here."""
    from customers.services import last_interaction_advance, last_interaction_recompute

    newest: dict = {}
    for customer_id, when, *_rest in rows:
        if customer_id not in newest or newest[customer_id] < when:
            newest[customer_id] = when
    if connection.vendor == "postgresql":
        last_interaction_advance(customer_ids=(), per_customer=newest)
    elif newest:
        last_interaction_recompute(customer_ids=list(newest))


def _staff_market(market: str) -> str:
    return d.CN if market == d.CN else d.TW


def _contact_rows(rng, customer_id, market, is_org, name, created_at):
    phone, email = ContactPoint.Kind.PHONE, ContactPoint.Kind.EMAIL
    rows = []
    if is_org:
        if market == d.CN:
            local = f"{6200 + customer_id % 800}{customer_id * 7919 % 10000:04d}"
            rows.append((phone, f"+86 21 {local[:4]} {local[4:]}", f"+8621{local}", "", "總機", True))
        else:
            area, local = d.tw_landline(customer_id)
            extension = str(rng.randrange(100, 300))
            typed = d.tw_landline_as_typed(area, local, extension)
            rows.append((phone, typed, f"+886{area}{local}", extension, "總機", True))
        if rng.random() < 0.5:
            rows.append(
                (email, f"service.{customer_id:x}@example.com", f"service.{customer_id:x}@example.com")
            )
    else:
        if market == d.CN:
            digits = d.cn_mobile(customer_id)
            rows.append((phone, d.cn_mobile_as_typed(digits, customer_id), f"+86{digits}", "", "", True))
        else:
            digits = d.tw_mobile(customer_id)
            rows.append((phone, d.tw_mobile_as_typed(digits, customer_id), f"+886{digits}", "", "", True))
            if market == d.TW and rng.random() < 0.15:
                area, local = d.tw_landline(customer_id)
                rows.append(
                    (phone, d.tw_landline_as_typed(area, local), f"+886{area}{local}", "", "住家", False)
                )
        if rng.random() < (0.7 if market == d.EN else 0.3):
            address = d.email_for(name, customer_id, rng)
            rows.append((email, address, address))
    out = []
    for row in rows:
        if len(row) == 3:
            kind, value, normalised = row
            row = (kind, value, normalised, "", "", True)
        kind, value, normalised, extension, label, primary = row
        out.append((customer_id, kind, value, normalised, extension, label, primary, created_at))
    return out


def _tag_names(rng, market, is_org, stage):
    names = []
    if is_org:
        names.append("企業客戶")
    if market == d.CN:
        if rng.random() < 0.45:
            names.append("微信好友")
    elif rng.random() < 0.35:
        names.append("LINE好友")
    if rng.random() < 0.05:
        names.append("VIP")
    if stage == "customer" and rng.random() < 0.3:
        names.append("回購客")
    if stage in ("lead", "prospect") and rng.random() < 0.4:
        names.append("潛在客戶")
    if stage == "churned" and rng.random() < 0.6:
        names.append("流失風險")
    if rng.random() < 0.02:
        names.append("投訴處理中")
    if rng.random() < 0.1:
        names.append("電子報訂閱")
    return names


def _timeline_rows(rng, writer, customer_id, market, owner_id, staff, created_at, now, per_customer):
    count = rng.randint(1, max(1, 2 * per_customer - 1)) if per_customer > 0 else 0
    if count == 0:
        return []
    empty = writer.json({})
    rows = [
        (customer_id, created_at, "system", "crm", "Profile created", owner_id, None, None, empty, created_at)
    ]
    agents = staff.agents.get(_staff_market(market)) or [None]
    span_days = max(0, (now - created_at).days)
    for _ in range(count - 1):
        kind, channel, summary, who, data = d.timeline_entry(rng, market)
        when = d.business_time(rng, created_at + dt.timedelta(days=rng.randint(0, span_days)))
        when = min(max(when, created_at), now)
        actor = owner_id if who == "owner" else rng.choice(agents) if who == "agent" else None
        rows.append(
            (
                customer_id,
                when,
                kind,
                channel,
                summary,
                actor,
                None,
                None,
                writer.json(data) if data else empty,
                when,
            )
        )
    return rows


def extend_timeline(*, customer: Customer, count: int, market: str = d.TW) -> int:
    """Give `customer` `count` more generated timeline entries over the last two years (for benchmarks)."""
    writer = writer_for_connection()
    now = timezone.now()
    rng = random.Random(customer.pk)
    written = 0
    while written < count:
        size = min(50_000, count - written)
        rows = []
        for _ in range(size):
            kind, channel, summary, who, data = d.timeline_entry(rng, market)
            when = now - dt.timedelta(seconds=rng.randrange(730 * 86400))
            actor = customer.owner_id if who == "owner" else None
            rows.append(
                (customer.pk, when, kind, channel, summary, actor, None, None, writer.json(data), when)
            )
        with transaction.atomic():
            _write_with_ids(writer, Interaction, INTERACTION_COLUMNS, rows)
            _last_interaction_set(rows)
        written += size
    if isinstance(writer, PostgresWriter):
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(Interaction._meta.db_table)}")
    return written
