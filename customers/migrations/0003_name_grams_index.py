"""Search by one or two characters of a name, on PostgreSQL only (SQLite searches with LIKE).

Trigram indexes (0002) only help from three characters on, and a Chinese name is mostly searched by
its surname or given name alone: 王, 小明. This indexes every single character and every pair of
adjacent characters of the upper-cased name, so that `customer_name_grams(name) @> ARRAY['小明']`
is exactly `UPPER(name) LIKE '%小明%'`, served by a GIN index.
"""

from django.db import migrations

FORWARD = [
    """
    CREATE OR REPLACE FUNCTION customer_name_grams(name text) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
        SELECT coalesce(array_agg(substr(u, i, n)), '{}')
        FROM (SELECT upper(name) AS u) AS s, generate_series(1, length(u)) AS i, (VALUES (1), (2)) AS v(n)
        WHERE i + n - 1 <= length(u)
    $$
    """,
    "CREATE INDEX IF NOT EXISTS customer_name_grams_gin ON customers_customer "
    "USING gin (customer_name_grams(name::text))",
]
BACKWARD = [
    "DROP INDEX IF EXISTS customer_name_grams_gin",
    "DROP FUNCTION IF EXISTS customer_name_grams(text)",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_search_indexes")]

    operations = [migrations.RunPython(forwards, backwards)]
