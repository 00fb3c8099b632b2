"""Customer.last_interaction_at: the newest timeline entry, so recency rules in segments read one
indexed column instead of probing the timeline once per customer.

The backfill is one set-based UPDATE on PostgreSQL (over millions of interactions: one pass of
the timeline grouped by customer); elsewhere (the SQLite demo) a correlated subquery update.
The indexes are built after the backfill so the UPDATE does not maintain them row by row.
"""

from django.db import migrations, models

BACKFILL = (
    "UPDATE customers_customer AS c SET last_interaction_at = m.newest "
    "FROM (SELECT customer_id, max(occurred_at) AS newest FROM customers_interaction "
    "GROUP BY customer_id) AS m WHERE c.id = m.customer_id"
)


def backfill(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(BACKFILL)
        return
    Customer = apps.get_model("customers", "Customer")
    Interaction = apps.get_model("customers", "Interaction")
    newest = (
        Interaction.objects.filter(customer_id=models.OuterRef("pk"))
        .order_by()
        .values("customer_id")
        .annotate(newest=models.Max("occurred_at"))
        .values("newest")
    )
    Customer.objects.update(last_interaction_at=models.Subquery(newest))


class Migration(migrations.Migration):
    dependencies = [("customers", "0009_merge_segments")]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="last_interaction_at",
            field=models.DateTimeField(blank=True, editable=False, null=True, verbose_name="last interaction"),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["last_interaction_at"], name="customer_last_interaction_idx"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["lifecycle_stage", "last_interaction_at"], name="customer_stage_recent_idx"),
        ),
    ]
