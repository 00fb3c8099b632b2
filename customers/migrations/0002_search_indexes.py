"""Trigram indexes for the search box, on PostgreSQL only (SQLite searches without them)."""

from django.db import migrations

FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS customer_name_trgm ON customers_customer USING gin (UPPER(name::text) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS contactpoint_normalised_trgm ON customers_contactpoint "
    "USING gin ((normalised::text) gin_trgm_ops)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS customer_name_trgm",
    "DROP INDEX IF EXISTS contactpoint_normalised_trgm",
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
    dependencies = [("customers", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
