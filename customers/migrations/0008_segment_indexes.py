"""Indexes for segment rules (PostgreSQL only; SQLite evaluates the same rules without them).

- interactions by (customer, kind, occurred_at): "at least N calls (in the last D days)" counts each
  candidate's rows of one kind from the index alone, instead of visiting every timeline row's heap
  page to test its kind.
- tag links by (tag, customer): "has any of these tags" reads the customers of a tag from the index
  alone (Django's own indexes are (customer, tag) and (tag) without the customer).
"""

from django.db import migrations

FORWARD = [
    "CREATE INDEX IF NOT EXISTS interaction_customer_kind_idx "
    "ON customers_interaction (customer_id, kind, occurred_at)",
    "CREATE INDEX IF NOT EXISTS customer_tags_tag_customer_idx ON customers_customer_tags (tag_id, customer_id)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS interaction_customer_kind_idx",
    "DROP INDEX IF EXISTS customer_tags_tag_customer_idx",
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
    dependencies = [("customers", "0007_segment_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
