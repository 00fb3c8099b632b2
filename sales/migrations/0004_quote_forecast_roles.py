"""Give the roles their quote, forecast and commission permissions.

Agents read quotes (a caller may ask about one); sales reps and managers write, send and decide
quotes and see the forecast (reps their own, managers their teams'); admins also set commission rates.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

QUOTES = ["view_quote", "add_quote", "change_quote"]
RATES = [f"{action}_commissionrate" for action in ("view", "add", "change", "delete")]
ROLE_PERMISSIONS = {
    "Agent": ["view_quote"],
    "Sales rep": [*QUOTES, "view_forecast"],
    "Manager": [*QUOTES, "view_forecast", "view_commissionrate"],
    "Admin": [*QUOTES, "view_forecast", *RATES],
}


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("sales")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="sales", codename__in=codenames))


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group = Group.objects.filter(name=role).first()
        if group is not None:
            group.permissions.remove(
                *Permission.objects.filter(content_type__app_label="sales", codename__in=codenames)
            )


class Migration(migrations.Migration):
    dependencies = [("sales", "0003_quotes_forecast"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
