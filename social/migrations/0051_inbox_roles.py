"""Give the roles the social inbox's permissions: every role answers conversations; managers and admins
hand them to others and send broadcasts. Running it again adds nothing twice."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Agent": ["view_conversation", "change_conversation"],
    "Sales rep": ["view_conversation", "change_conversation"],
    "Manager": [
        "view_conversation",
        "change_conversation",
        "assign_conversation",
        "view_broadcast",
        "send_broadcast",
    ],
    "Admin": [
        "view_conversation",
        "change_conversation",
        "assign_conversation",
        "view_broadcast",
        "send_broadcast",
    ],
}


def grant(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    conversation_type, _ = ContentType.objects.get_or_create(app_label="social", model="conversation")
    Permission.objects.get_or_create(
        content_type=conversation_type,
        codename="assign_conversation",
        defaults={"name": "Can assign conversations to others"},
    )
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        for codename in codenames:
            group.permissions.add(Permission.objects.get(content_type__app_label="social", codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("social", "0050_inbox_broadcasts"),
        ("crm", "0002_roles"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(grant, migrations.RunPython.noop)]
