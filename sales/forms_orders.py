"""Forms of the orders, leads and assignment-rule pages."""

from django import forms
from django.contrib.auth import get_user_model
from django.utils.translation import gettext_lazy as _

from crm import roles
from crm.models import Team

from .models import AssignmentRule, Order


def _users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class OrderFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=64)
    channel = forms.ChoiceField(choices=[("", _("Any channel")), *Order.Channel.choices], required=False)
    customer = forms.IntegerField(required=False, min_value=1, max_value=2**31 - 1, widget=forms.HiddenInput)


class OrderImportForm(forms.Form):
    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "First line: the column names. Needed: order_number, date. Optional: channel, amount, currency, "
            "customer_id, phone, email, customer_name, sku, description, quantity, unit_price, note. "
            "Several lines with one order number are the items of one order."
        ),
    )


class LeadFilterForm(forms.Form):
    SORTS = [
        ("-score", _("Highest score")),
        ("score", _("Lowest score")),
        ("-created", _("Newest")),
        ("name", _("Name")),
    ]

    q = forms.CharField(required=False, max_length=100)
    owner = forms.ModelChoiceField(queryset=_users(), required=False, empty_label=_("Any owner"))
    source = forms.CharField(required=False, max_length=100)
    min_score = forms.IntegerField(required=False, min_value=0, max_value=100)
    max_score = forms.IntegerField(required=False, min_value=0, max_value=100)
    sort = forms.ChoiceField(choices=SORTS, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _users()


class AssignmentRuleForm(forms.ModelForm):
    class Meta:
        model = AssignmentRule
        fields = [
            "name",
            "position",
            "enabled",
            "applies_to",
            "condition",
            "value",
            "strategy",
            "team",
            "user",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].queryset = Team.objects.all()
        self.fields["user"].queryset = _users().filter(groups__name__in=[roles.SALES_REP, roles.MANAGER])
        self.fields["team"].help_text = _(
            "For round robin and least open deals: its active sales reps take turns."
        )
        self.fields["user"].help_text = _("For “always the same user”.")

    def clean(self):
        data = super().clean()
        condition, strategy = data.get("condition"), data.get("strategy")
        if (
            condition in (AssignmentRule.Condition.SOURCE, AssignmentRule.Condition.REGION)
            and not (data.get("value") or "").strip()
        ):
            self.add_error("value", _("Enter the source or phone area this rule is for."))
        if strategy == AssignmentRule.Strategy.FIXED and not data.get("user"):
            self.add_error("user", _("Choose who gets the leads and deals."))
        if strategy in (
            AssignmentRule.Strategy.ROUND_ROBIN,
            AssignmentRule.Strategy.LEAST_OPEN,
        ) and not data.get("team"):
            self.add_error("team", _("Choose the team whose reps take turns."))
        return data
