"""Managers and admins may merge duplicates; only admins carry out data-subject requests."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Manager": ["merge_customer", "view_duplicatecandidate", "view_customermerge"],
    "Admin": [
        "merge_customer",
        "view_duplicatecandidate",
        "view_customermerge",
        "handle_data_request",
        "view_datasubjectrequest",
    ],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
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
    dependencies = [("customers", "0006_merge_dedup_privacy"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
