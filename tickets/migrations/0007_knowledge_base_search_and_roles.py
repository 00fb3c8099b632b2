"""Knowledge base: a trigram index for searching articles (PostgreSQL only) and the roles' permissions.

Search matches each term with ILIKE on the published title and text. A trigram GIN index serves
ILIKE for terms of three characters or more in any script, so it needs no Chinese segmenter; shorter
terms (a two-character Chinese word) are matched by the same ILIKE, which on a knowledge base of a
few thousand articles is a quick scan.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Agent": ["view_article", "view_cannedreply"],
    "Sales rep": ["view_article", "view_cannedreply"],
    "Manager": [
        "view_article", "add_article", "change_article", "delete_article", "publish_article",
        "view_cannedreply", "add_cannedreply", "change_cannedreply", "delete_cannedreply",
    ],
    "Admin": [
        "view_article", "add_article", "change_article", "delete_article", "publish_article",
        "view_cannedreply", "add_cannedreply", "change_cannedreply", "delete_cannedreply",
    ],
}


def forwards(apps, schema_editor):
    # tests/conftest.py's seed_data replays this without a schema editor, for the permissions alone.
    if schema_editor is not None and schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS article_search_trgm ON tickets_article "
            "USING gin (search_document gin_trgm_ops)"
        )
    app_config = apps.get_app_config("tickets")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="tickets", codename__in=codenames))


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS article_search_trgm")


class Migration(migrations.Migration):
    dependencies = [("tickets", "0006_knowledge_base"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
