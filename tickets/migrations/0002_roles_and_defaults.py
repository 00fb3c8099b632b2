"""Give the roles their ticket permissions and start with usable settings: status transitions, a
Taiwan business calendar with the 2026 public holidays, SLA policies per priority, three escalation
levels and a few categories. Admins edit all of it in the app; running this again adds nothing twice."""

import datetime as dt

from django.contrib.auth.management import create_permissions
from django.db import migrations

ROLE_PERMISSIONS = {
    "Agent": ["view_ticket", "add_ticket", "change_ticket"],
    "Sales rep": ["view_ticket", "add_ticket", "change_ticket"],
    "Manager": ["view_ticket", "add_ticket", "change_ticket", "assign_ticket", "merge_ticket"],
    "Admin": ["view_ticket", "add_ticket", "change_ticket", "assign_ticket", "merge_ticket", "configure_tickets"],
}

TRANSITIONS = {
    "new": ["open", "pending", "on_hold", "solved", "closed"],
    "open": ["pending", "on_hold", "solved", "closed"],
    "pending": ["open", "on_hold", "solved", "closed"],
    "on_hold": ["open", "pending", "solved", "closed"],
    "solved": ["open", "closed"],
}

OFFICE_HOURS = {str(day): [["09:00", "18:00"]] for day in range(1, 6)}  # Monday to Friday

# Taiwan's 2026 (ROC 115) public holidays as announced by the DGPA, with the weekdays given in lieu of
# holidays that fall on a weekend. Weekends are days off anyway; they are listed so the calendar reads
# like the official one.
TAIWAN_2026 = [
    ("2026-01-01", "開國紀念日 (New Year's Day)"),
    ("2026-02-15", "小年夜 (Day before Lunar New Year's Eve)"),
    ("2026-02-16", "除夕 (Lunar New Year's Eve)"),
    ("2026-02-17", "春節 (Lunar New Year)"),
    ("2026-02-18", "春節 (Lunar New Year)"),
    ("2026-02-19", "春節 (Lunar New Year)"),
    ("2026-02-20", "春節補假 (Lunar New Year, in lieu)"),
    ("2026-02-27", "和平紀念日補假 (Peace Memorial Day, in lieu)"),
    ("2026-02-28", "和平紀念日 (Peace Memorial Day)"),
    ("2026-04-03", "兒童節補假 (Children's Day, in lieu)"),
    ("2026-04-04", "兒童節 (Children's Day)"),
    ("2026-04-05", "清明節 (Tomb Sweeping Day)"),
    ("2026-04-06", "清明節補假 (Tomb Sweeping Day, in lieu)"),
    ("2026-05-01", "勞動節 (Labour Day)"),
    ("2026-06-19", "端午節 (Dragon Boat Festival)"),
    ("2026-09-25", "中秋節 (Mid-Autumn Festival)"),
    ("2026-09-28", "孔子誕辰紀念日 (Teachers' Day)"),
    ("2026-10-09", "國慶日補假 (National Day, in lieu)"),
    ("2026-10-10", "國慶日 (National Day)"),
    ("2026-10-25", "臺灣光復暨金門古寧頭大捷紀念日 (Retrocession Day)"),
    ("2026-10-26", "光復節補假 (Retrocession Day, in lieu)"),
    ("2026-12-25", "行憲紀念日 (Constitution Day)"),
]

# (name, priority, first response, resolution, warn before): business minutes on a 9-hour day.
POLICIES = [
    ("Urgent", "urgent", 30, 240, 15),
    ("High", "high", 60, 540, 30),
    ("Normal", "normal", 240, 1620, 60),
    ("Low", "low", 540, 2700, 120),
]

# (name, level, trigger, target, delay minutes, action)
ESCALATIONS = [
    ("Warn the assignee", 1, "warning", "any", 0, "notify_assignee"),
    ("Tell the manager about a breach", 2, "breach", "any", 0, "notify_manager"),
    ("Raise the priority of a late resolution", 3, "breach", "resolution", 120, "raise_priority"),
]

CATEGORIES = {
    "General": [],
    "Billing": ["Invoice", "Refund"],
    "Technical": ["Login", "Bug"],
    "Delivery": [],
    "Complaint": [],
}


def forwards(apps, schema_editor):
    app_config = apps.get_app_config("tickets")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _created = Group.objects.get_or_create(name=role)
        group.permissions.add(*Permission.objects.filter(content_type__app_label="tickets", codename__in=codenames))

    StatusTransition = apps.get_model("tickets", "StatusTransition")
    if not StatusTransition.objects.exists():
        for from_status, targets in TRANSITIONS.items():
            for to_status in targets:
                StatusTransition.objects.create(from_status=from_status, to_status=to_status)

    BusinessCalendar = apps.get_model("tickets", "BusinessCalendar")
    Holiday = apps.get_model("tickets", "Holiday")
    calendar, created = BusinessCalendar.objects.get_or_create(
        name="Taiwan office hours",
        defaults={"time_zone": "Asia/Taipei", "hours": OFFICE_HOURS, "is_default": True},
    )
    if created:
        BusinessCalendar.objects.exclude(pk=calendar.pk).update(is_default=False)
    for day, name in TAIWAN_2026:
        Holiday.objects.get_or_create(calendar=calendar, date=dt.date.fromisoformat(day), defaults={"name": name})

    SlaPolicy = apps.get_model("tickets", "SlaPolicy")
    if not SlaPolicy.objects.exists():
        for name, priority, first_response, resolution, warning in POLICIES:
            SlaPolicy.objects.create(
                name=name,
                priority=priority,
                first_response_minutes=first_response,
                resolution_minutes=resolution,
                warning_minutes=warning,
            )

    EscalationRule = apps.get_model("tickets", "EscalationRule")
    if not EscalationRule.objects.exists():
        for name, level, trigger, target, delay, action in ESCALATIONS:
            EscalationRule.objects.create(
                name=name, level=level, trigger=trigger, target=target, delay_minutes=delay, action=action
            )

    Category = apps.get_model("tickets", "Category")
    if not Category.objects.exists():
        for order, (name, children) in enumerate(CATEGORIES.items()):
            parent = Category.objects.create(name=name, order=order)
            for child_order, child in enumerate(children):
                Category.objects.create(name=child, parent=parent, order=child_order)


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial"), ("crm", "0002_roles")]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
