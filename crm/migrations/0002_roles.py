"""Create the four roles as groups with their model permissions (crm.roles.ROLE_PERMISSIONS)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {  # a frozen copy of crm.roles.ROLE_PERMISSIONS at this migration
    "Agent": [
        "customers.view_customer",
        "customers.add_customer",
        "customers.change_customer",
        "customers.add_interaction",
        "customers.view_interaction",
    ],
    "Sales rep": [
        "customers.view_customer",
        "customers.add_customer",
        "customers.change_customer",
        "customers.add_interaction",
        "customers.view_interaction",
        "customers.view_contact_details",
    ],
    "Manager": [
        "customers.view_customer",
        "customers.add_customer",
        "customers.change_customer",
        "customers.add_interaction",
        "customers.view_interaction",
        "customers.view_contact_details",
        "customers.export_customers",
        "customers.share_customer",
    ],
    "Admin": [
        "customers.view_customer",
        "customers.add_customer",
        "customers.change_customer",
        "customers.delete_customer",
        "customers.add_interaction",
        "customers.view_interaction",
        "customers.view_contact_details",
        "customers.export_customers",
        "customers.share_customer",
        "customers.add_tag",
        "customers.change_tag",
        "customers.delete_tag",
        "crm.view_user",
        "crm.add_user",
        "crm.change_user",
        "crm.view_team",
        "crm.add_team",
        "crm.change_team",
        "crm.delete_team",
        "crm.view_accesslog",
        "auditlog.view_logentry",
    ],
}


def create_roles(apps, schema_editor):
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, perms in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        for perm in perms:
            app_label, codename = perm.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


class Migration(migrations.Migration):
    dependencies = [
        ("crm", "0001_initial"),
        ("customers", "0001_initial"),
        ("auditlog", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
