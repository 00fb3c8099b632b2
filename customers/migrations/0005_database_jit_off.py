"""Turn PostgreSQL's JIT compilation off for this database (PostgreSQL only).

JIT pays off for long analytical queries. Here it fires on the customer list whenever the planner's
cost estimate passes jit_above_cost, which a million customers and the permission filter's EXISTS
clauses do easily, and then compiles for 15 to 250 ms to run a query that takes 20. It applies to
new connections. Without the privilege to alter the database the migration only says so.
"""

from django.db import migrations

FORWARD = """
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I SET jit = off', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'Not allowed to ALTER DATABASE; set jit = off in postgresql.conf instead.';
END
$$
"""
BACKWARD = """
DO $$
BEGIN
    EXECUTE format('ALTER DATABASE %I RESET jit', current_database());
EXCEPTION WHEN insufficient_privilege THEN
    NULL;
END
$$
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FORWARD, params=None)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKWARD, params=None)


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_interaction_task_kind")]

    operations = [migrations.RunPython(forwards, backwards)]
