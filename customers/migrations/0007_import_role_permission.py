"""Managers and admins may import customer lists (exporting already has its own permission)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLES = ["Manager", "Admin"]


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("customers")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    permission = Permission.objects.get(content_type__app_label="customers", codename="import_customers")
    for role in ROLES:
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(permission)


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_data_jobs"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
