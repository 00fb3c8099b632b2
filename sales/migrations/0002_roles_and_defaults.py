"""Give the roles their sales permissions and start with a usable pipeline, lost reasons and a cadence.

Agents get read access to deals (the caller card shows a caller's open deals) and work follow-up
tasks; sales reps work deals and tasks; managers also delete, export and share deals; admins also
edit pipelines, stages, lost reasons, products and cadences.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

TASKS = ["view_task", "add_task", "change_task"]
DEALS = ["view_deal", "add_deal", "change_deal"]
SETTINGS = [
    f"{action}_{model}"
    for model in ("pipeline", "stage", "lostreason", "product", "cadence")
    for action in ("view", "add", "change", "delete")
]
ROLE_PERMISSIONS = {
    "Agent": ["view_deal", *TASKS],
    "Sales rep": [*DEALS, *TASKS, "delete_task"],
    "Manager": [*DEALS, "delete_deal", "export_deals", "share_deal", *TASKS, "delete_task"],
    "Admin": [
        *DEALS,
        "delete_deal",
        "export_deals",
        "share_deal",
        "manage_pipelines",
        *TASKS,
        "delete_task",
        *SETTINGS,
    ],
}
STAGES = [  # name, probability, won, lost, rotting days
    ("New", 10, False, False, 14),
    ("Qualified", 25, False, False, 14),
    ("Proposal", 50, False, False, 21),
    ("Negotiation", 75, False, False, 21),
    ("Won", 100, True, False, None),
    ("Lost", 0, False, True, None),
]
LOST_REASONS = ["Price too high", "Chose a competitor", "No budget", "No decision made", "Bad timing"]


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

    Pipeline = apps.get_model("sales", "Pipeline")
    Stage = apps.get_model("sales", "Stage")
    if not Pipeline.objects.exists():
        pipeline = Pipeline.objects.create(name="Sales", order=0)
        for order, (name, probability, won, lost, rotting) in enumerate(STAGES):
            Stage.objects.create(
                pipeline=pipeline,
                name=name,
                order=order,
                probability=probability,
                is_won=won,
                is_lost=lost,
                rotting_days=rotting,
            )
    LostReason = apps.get_model("sales", "LostReason")
    for order, name in enumerate(LOST_REASONS):
        LostReason.objects.get_or_create(name=name, defaults={"order": order})
    Cadence = apps.get_model("sales", "Cadence")
    Cadence.objects.get_or_create(
        name="Call again in 3 days if no answer",
        defaults={"interval_days": 3, "repeat": "no_answer", "max_attempts": 3},
    )


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
    dependencies = [("sales", "0001_initial"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(forwards, backwards)]
