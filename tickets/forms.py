import zoneinfo

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models import Team

from . import selectors
from .attachments import allowed_extensions
from .models import (
    AssignmentRule,
    BusinessCalendar,
    Category,
    EscalationRule,
    Priority,
    SlaPolicy,
    Ticket,
    TicketTag,
)
from .services import BULK_ACTIONS, assignable_users

WEEKDAYS = [
    (1, _("Monday")),
    (2, _("Tuesday")),
    (3, _("Wednesday")),
    (4, _("Thursday")),
    (5, _("Friday")),
    (6, _("Saturday")),
    (7, _("Sunday")),
]
MAX_TARGET_MINUTES = 100_000


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": ",".join(allowed_extensions())}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        if isinstance(data, list | tuple):
            return [super(MultipleFileField, self).clean(item, initial) for item in data if item]
        return [super().clean(data, initial)] if data else []


class CategoryChoiceField(forms.TypedChoiceField):
    """Active categories as a tree ("Billing › Refund"); cleans to a Category or None."""

    def __init__(self, *, keep=None, **kwargs):
        self.keep = keep  # an inactive category the ticket already has stays selectable
        super().__init__(coerce=int, required=False, empty_value=None, choices=self.tree_choices, **kwargs)

    def tree_choices(self):
        nodes = selectors.category_tree()
        return [("", "—")] + [
            (node.category.pk, node.path)
            for node in nodes
            if node.category.active or node.category.pk == self.keep
        ]

    def clean(self, value):
        pk = super().clean(value)
        return None if pk is None else Category.objects.filter(pk=pk).first()


def _names(text) -> list[str]:
    return [n.strip() for n in (text or "").split(",") if n.strip()]


def _custom_fields(text) -> dict:
    fields = {}
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        key, separator, value = line.partition(":")
        if not separator or not key.strip():
            raise ValidationError(_("Line %(number)s: write “name: value”.") % {"number": number})
        fields[key.strip()] = value.strip()
    return fields


def _user_choices(user, team=None):
    """Whom the user may give a ticket to: anyone who works tickets with the assign permission, else only themselves."""
    users = assignable_users(team)
    if not user.has_perm("tickets.assign_ticket"):
        users = users.filter(pk=user.pk)
    return users.select_related(None)


class TicketCreateForm(forms.Form):
    customer = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)
    phone = forms.CharField(
        label=_("Customer's phone number"),
        required=False,
        max_length=40,
        help_text=_("In any format; the ticket goes to the customer with exactly this number."),
    )
    subject = forms.CharField(label=_("Subject"), max_length=200)
    description = forms.CharField(
        label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 5})
    )
    category = CategoryChoiceField(label=_("Category"))
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    source = forms.ChoiceField(label=_("Source"), choices=Ticket.Source.choices, initial=Ticket.Source.MANUAL)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)
    assignee = forms.ModelChoiceField(
        label=_("Assignee"),
        queryset=get_user_model().objects.none(),
        required=False,
        help_text=_("Empty: the team's assignment rule decides, or the ticket waits in the team's queue."),
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))
    custom_fields = forms.CharField(
        label=_("Custom fields"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "order_number: A-1024"}),
        help_text=_("One per line as “name: value”."),
    )
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _user_choices(user)

    def clean_tags(self):
        return _names(self.cleaned_data.get("tags"))

    def clean_custom_fields(self):
        return _custom_fields(self.cleaned_data.get("custom_fields"))

    def clean(self):
        data = super().clean()
        if not data.get("customer") and not (data.get("phone") or "").strip():
            self.add_error(
                "phone", _("Enter the customer's phone number, or open the ticket from the customer's page.")
            )
        return data


class TicketUpdateForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
    status = forms.ChoiceField(label=_("Status"), choices=Ticket.Status.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    category = CategoryChoiceField(label=_("Category"))
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=get_user_model().objects.none(), required=False
    )
    tags = forms.CharField(label=_("Tags"), required=False, help_text=_("Separated by commas."))

    def __init__(self, *args, user, ticket, transitions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].keep = ticket.category_id
        allowed = transitions.get(ticket.status, set()) | {ticket.status}
        self.fields["status"].choices = [(v, label) for v, label in Ticket.Status.choices if v in allowed]
        users = _user_choices(user)
        if ticket.assignee_id:
            users = users | get_user_model().objects.filter(pk=ticket.assignee_id)
        self.fields["assignee"].queryset = users.distinct().order_by("first_name", "username")
        if not user.has_perm("tickets.assign_ticket"):
            self.fields["team"].disabled = True

    def clean_tags(self):
        return _names(self.cleaned_data.get("tags"))


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 4}), max_length=20000)
    internal = forms.BooleanField(label=_("Internal note (staff only)"), required=False)
    status = forms.ChoiceField(label=_("Then set status"), required=False)
    attachments = MultipleFileField(label=_("Attachments"))

    def __init__(self, *args, ticket=None, transitions=None, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = (transitions or {}).get(ticket.status, set()) if ticket is not None else set()
        self.fields["status"].choices = [("", _("(unchanged)"))] + [
            (v, label) for v, label in Ticket.Status.choices if v in allowed
        ]


class MergeForm(forms.Form):
    target = forms.CharField(label=_("Merge into ticket number"), max_length=20)

    def clean_target(self):
        value = self.cleaned_data["target"].strip().lstrip("#")
        if not value.isdigit() or len(value) > 18:
            raise ValidationError(_("Enter a ticket number, e.g. 1024."))
        return int(value)


class QueueFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    status = forms.MultipleChoiceField(required=False, choices=Ticket.Status.choices)
    priority = forms.ChoiceField(required=False, choices=[("", _("Any priority"))] + Priority.choices)
    assignee = forms.CharField(required=False, max_length=20)
    team = forms.ModelChoiceField(required=False, queryset=Team.objects.all(), empty_label=_("Any team"))
    category = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    sla = forms.ChoiceField(required=False, choices=[("", _("Any SLA state"))] + Ticket.SlaState.choices)
    tag = forms.ModelChoiceField(
        required=False,
        queryset=TicketTag.objects.all(),
        to_field_name="name",
        widget=forms.TextInput(attrs={"placeholder": _("Tag")}),
        error_messages={"invalid_choice": _("No ticket has this tag.")},
    )
    source = forms.ChoiceField(required=False, choices=[("", _("Any source"))] + Ticket.Source.choices)
    customer = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)
    sort = forms.ChoiceField(
        required=False,
        choices=[
            ("", _("Default order")),
            ("due", _("Deadline first")),
            ("newest", _("Newest")),
            ("oldest", _("Oldest")),
            ("updated", _("Recently updated")),
        ],
    )

    def __init__(self, *args, categories, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].choices = [("", _("Any category"))] + [
            (node.category.pk, node.path) for node in categories
        ]

    def clean_assignee(self):
        value = (self.cleaned_data.get("assignee") or "").strip()
        if value in ("", "me", "none"):
            return value
        if value.isdigit() and len(value) <= 18:
            return int(value)
        raise ValidationError(_("Choose from the list."))


class BulkForm(forms.Form):
    action = forms.ChoiceField(choices=[(a, a) for a in BULK_ACTIONS])
    ids = forms.TypedMultipleChoiceField(coerce=int)
    assignee = forms.ModelChoiceField(queryset=get_user_model().objects.none(), required=False)
    tag = forms.CharField(required=False, max_length=50)
    confirmed = forms.BooleanField(required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignable_users()
        raw = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        self.fields["ids"].choices = [(v, v) for v in raw if str(v).isdigit() and len(str(v)) <= 18]


class SavedFilterForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=60)
    query = forms.CharField(required=False, max_length=1000)


# Settings ----------------------------------------------------------------------------------------


class CategoryForm(forms.ModelForm):
    class Meta:
        model = Category
        fields = ["name", "parent", "order", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = {node.category.pk: node.path for node in selectors.category_tree()}
        parent = self.fields["parent"]
        parent.queryset = (
            Category.objects.exclude(pk=self.instance.pk) if self.instance.pk else Category.objects.all()
        )
        parent.label_from_instance = lambda obj: labels.get(obj.pk, obj.name)


class SlaPolicyForm(forms.ModelForm):
    class Meta:
        model = SlaPolicy
        fields = [
            "name",
            "priority",
            "category",
            "calendar",
            "first_response_minutes",
            "resolution_minutes",
            "warning_minutes",
            "active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        labels = {node.category.pk: node.path for node in selectors.category_tree()}
        self.fields["category"].label_from_instance = lambda obj: labels.get(obj.pk, obj.name)
        for name in ("first_response_minutes", "resolution_minutes", "warning_minutes"):
            self.fields[name].max_value = MAX_TARGET_MINUTES
            self.fields[name].widget.attrs["max"] = MAX_TARGET_MINUTES
            self.fields[name].validators.append(_at_most(MAX_TARGET_MINUTES))

    def clean(self):
        data = super().clean()
        first, resolution = data.get("first_response_minutes"), data.get("resolution_minutes")
        if first is not None and resolution is not None and first > resolution:
            self.add_error(
                "first_response_minutes", _("The first response cannot be due after the resolution.")
            )
        if data.get("active"):
            clash = SlaPolicy.objects.filter(
                active=True, priority=data.get("priority") or "", category=data.get("category")
            ).exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error(None, _("Another active policy already covers this priority and category."))
        return data


def _at_most(limit):
    def check(value):
        if value is not None and value > limit:
            raise ValidationError(_("At most %(limit)d.") % {"limit": limit})

    return check


class BusinessCalendarForm(forms.ModelForm):
    """Working hours as one line per weekday: "09:00-12:00, 13:00-18:00", empty for a day off."""

    class Meta:
        model = BusinessCalendar
        fields = ["name", "time_zone", "is_default"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        hours = self.instance.hours or {}
        for day, label in WEEKDAYS:
            self.fields[f"day_{day}"] = forms.CharField(
                label=label,
                required=False,
                max_length=100,
                initial=", ".join(f"{a}-{b}" for a, b in hours.get(str(day), [])),
                widget=forms.TextInput(attrs={"placeholder": _("day off")}),
            )

    def clean_time_zone(self):
        value = self.cleaned_data["time_zone"].strip()
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(_("Enter a time zone such as Asia/Taipei.")) from None
        return value

    def clean(self):
        data = super().clean()
        hours = {}
        for day, _label in WEEKDAYS:
            name = f"day_{day}"
            try:
                intervals = _intervals(data.get(name) or "")
            except ValidationError as exc:
                self.add_error(name, exc)
                continue
            if intervals:
                hours[str(day)] = intervals
        if not hours and not self.errors:
            raise ValidationError(_("Give at least one day working hours."))
        self.instance.hours = hours
        return data


def _intervals(text: str) -> list[list[str]]:
    intervals = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        start, separator, end = part.partition("-")
        try:
            if not separator:
                raise ValueError
            start_minutes, end_minutes = _minutes(start), _minutes(end)
        except ValueError:
            raise ValidationError(_("Write hours like 09:00-18:00.")) from None
        if end_minutes <= start_minutes:
            raise ValidationError(_("Each interval must end after it starts."))
        intervals.append((start_minutes, end_minutes))
    intervals.sort()
    for (_a, end), (start, _b) in zip(intervals, intervals[1:], strict=False):
        if start < end:
            raise ValidationError(_("Intervals must not overlap."))
    return [[_hhmm(a), _hhmm(b)] for a, b in intervals]


def _minutes(text: str) -> int:
    hours, _sep, minutes = text.strip().partition(":")
    hours, minutes = int(hours), int(minutes or 0)
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise ValueError
    return hours * 60 + minutes


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


class HolidayForm(forms.Form):
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    name = forms.CharField(label=_("Name"), max_length=100)


class EscalationRuleForm(forms.ModelForm):
    class Meta:
        model = EscalationRule
        fields = [
            "name",
            "level",
            "policy",
            "trigger",
            "target",
            "delay_minutes",
            "action",
            "assign_to",
            "assign_team",
            "active",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assign_to"].queryset = assignable_users()
        self.fields["delay_minutes"].validators.append(_at_most(MAX_TARGET_MINUTES))

    def clean(self):
        data = super().clean()
        if data.get("action") == EscalationRule.Action.REASSIGN and not (
            data.get("assign_to") or data.get("assign_team")
        ):
            self.add_error("assign_to", _("Choose whom to reassign to, a person or a team."))
        return data


class AssignmentRuleForm(forms.ModelForm):
    class Meta:
        model = AssignmentRule
        fields = ["team", "strategy", "auto_assign", "available_only", "active"]


class TransitionsForm(forms.Form):
    """A checkbox per (from, to) pair of statuses."""

    def __init__(self, *args, current: dict[str, set[str]], **kwargs):
        super().__init__(*args, **kwargs)
        for a, label_a in Ticket.Status.choices:
            for b, label_b in Ticket.Status.choices:
                if a != b:
                    self.fields[f"{a}__{b}"] = forms.BooleanField(
                        required=False,
                        initial=b in current.get(a, set()),
                        widget=forms.CheckboxInput(
                            attrs={"class": "form-check-input", "aria-label": f"{label_a} → {label_b}"}
                        ),
                    )

    def pairs(self):
        return [tuple(name.split("__")) for name, value in self.cleaned_data.items() if value]

    def rows(self):
        return [
            (label_a, [self[f"{a}__{b}"] if a != b else None for b, _label_b in Ticket.Status.choices])
            for a, label_a in Ticket.Status.choices
        ]
