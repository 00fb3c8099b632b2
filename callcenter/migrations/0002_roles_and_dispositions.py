"""Give the roles their call-centre permissions and start with a usable list of dispositions."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Agent": ["view_call", "change_call"],
    "Sales rep": ["view_call", "change_call"],
    "Manager": ["view_call", "change_call", "view_agentstatus", "view_disposition"],
    "Admin": [
        "view_call",
        "change_call",
        "view_agentstatus",
        "view_ctievent",
        "view_disposition",
        "add_disposition",
        "change_disposition",
        "delete_disposition",
    ],
}
DISPOSITIONS = ["Resolved", "Needs follow-up", "Sale made", "Complaint", "Wrong number", "Left a message"]


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("callcenter")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="callcenter", codename__in=codenames))
    Disposition = apps.get_model("callcenter", "Disposition")
    for order, name in enumerate(DISPOSITIONS):
        Disposition.objects.get_or_create(name=name, defaults={"order": order})


class Migration(migrations.Migration):
    dependencies = [("callcenter", "0001_initial"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
