"""Give the roles their order and assignment-rule permissions.

Orders follow deals: agents read them (the 360 page shows a caller's purchases), sales reps also
record them, managers also correct, delete and import them; admins also edit the assignment rules.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ORDERS = ["view_order", "add_order"]
MANAGE_ORDERS = [*ORDERS, "change_order", "delete_order", "import_orders"]
RULES = [f"{action}_assignmentrule" for action in ("view", "add", "change", "delete")]
ROLE_PERMISSIONS = {
    "Agent": ["view_order"],
    "Sales rep": ORDERS,
    "Manager": MANAGE_ORDERS,
    "Admin": [*MANAGE_ORDERS, *RULES, "view_assignmentlog"],
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
        group.permissions.add(
            *Permission.objects.filter(content_type__app_label="sales", codename__in=codenames)
        )


def backwards(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    codenames = {codename for names in ROLE_PERMISSIONS.values() for codename in names}
    for group in Group.objects.filter(name__in=ROLE_PERMISSIONS):
        group.permissions.remove(
            *Permission.objects.filter(content_type__app_label="sales", codename__in=codenames)
        )


class Migration(migrations.Migration):
    dependencies = [("sales", "0003_assignment_orders")]

    operations = [migrations.RunPython(forwards, backwards)]
