"""Managers and admins build and run call lists; agents and sales reps work the entries handed to them."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Agent": ["view_calllist", "change_calllistentry"],
    "Sales rep": ["view_calllist", "change_calllistentry"],
    "Manager": ["add_calllist", "change_calllist", "view_calllist"],
    "Admin": ["add_calllist", "change_calllist", "view_calllist"],
}


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("callcenter")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="callcenter", codename__in=codenames)
        )


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group = Group.objects.filter(name=role).first()
        if group is not None:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="callcenter", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [("callcenter", "0003_call_lists"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
