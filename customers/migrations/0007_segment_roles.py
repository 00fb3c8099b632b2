"""Every role may use segments; sales reps, managers and admins build them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Agent": ["view_segment"],
    "Sales rep": ["view_segment", "add_segment", "change_segment", "delete_segment"],
    "Manager": ["view_segment", "add_segment", "change_segment", "delete_segment"],
    "Admin": ["view_segment", "add_segment", "change_segment", "delete_segment"],
}


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("customers")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="customers", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [("customers", "0006_segments"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
