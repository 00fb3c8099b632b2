import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Team
from customers.models import Customer, Tag
from customers.permissions import customers_visible_to

from .models import Cadence, Deal, LostReason, Pipeline, Product, Stage, Task
from .money import CURRENCIES


def _users():
    return get_user_model().objects.filter(is_active=True).order_by("username")


def _tag_names(text):
    return [name.strip() for name in (text or "").split(",") if name.strip()]


class StageChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, stage):
        return f"{stage.pipeline.name} · {stage.name} ({stage.probability}%)"


class DealForm(forms.ModelForm):
    """Create or edit a deal. Only the chosen customer is listed; the search next to it finds others."""

    customer = forms.ModelChoiceField(label=_("Customer"), queryset=Customer.objects.none())
    stage = StageChoiceField(label=_("Stage"), queryset=Stage.objects.none())
    currency = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for c in CURRENCIES])
    tag_names = forms.CharField(
        label=_("Tags"),
        required=False,
        max_length=500,
        help_text=_("Separated by commas, e.g. VIP, renewal."),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    field_order = [
        "customer",
        "title",
        "amount",
        "currency",
        "stage",
        "expected_close_date",
        "owner",
        "team",
        "source",
        "tag_names",
        "contract_status",
        "after_sale_follow_up_on",
        "lost_reason",
        "lost_note",
    ]

    class Meta:
        model = Deal
        fields = [
            "title",
            "amount",
            "expected_close_date",
            "owner",
            "team",
            "source",
            "contract_status",
            "after_sale_follow_up_on",
            "lost_reason",
            "lost_note",
        ]
        widgets = {
            "expected_close_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "after_sale_follow_up_on": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "amount": forms.NumberInput(attrs={"min": "0", "step": "0.01"}),
        }

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        creating = self.instance.pk is None
        visible = customers_visible_to(user)
        self.fields["customer"].queryset = visible
        chosen = self.data.get("customer") if self.is_bound else self.initial.get("customer")
        if not creating:
            del self.fields["customer"]
            self.fields["version"].initial = self.instance.version
            self.fields["tag_names"].initial = ", ".join(t.name for t in self.instance.tags.all())
            self.fields["stage"].initial = self.instance.stage_id
            self.fields["currency"].initial = self.instance.currency
        else:
            options = []
            if chosen and str(chosen).isdigit():
                options = [(c.pk, c.name) for c in visible.filter(pk=int(chosen)).only("pk", "name")]
            self.fields["customer"].widget.choices = [("", "—")] + options
        self.fields["stage"].queryset = (
            Stage.objects.filter(pipeline__active=True)
            .select_related("pipeline")
            .order_by("pipeline__order", "pipeline__id", "order", "id")
        )
        self.fields["owner"].queryset = _users()
        if not self.instance.pk:
            self.fields["owner"].help_text = _("Leave empty to let the assignment rules choose.")
        self.fields["team"].queryset = Team.objects.all()
        self.fields["lost_reason"].queryset = LostReason.objects.filter(active=True)
        self.fields["title"].widget.attrs["autofocus"] = True

    def clean_tag_names(self):
        return _tag_names(self.cleaned_data.get("tag_names"))


class QuickEditForm(forms.ModelForm):
    """The board card's inline edit."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    class Meta:
        model = Deal
        fields = ["title", "amount", "expected_close_date", "owner"]
        widgets = {
            "expected_close_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "amount": forms.NumberInput(attrs={"min": "0", "step": "0.01"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _users()
        self.fields["version"].initial = self.instance.version


class MoveForm(forms.Form):
    stage = forms.ModelChoiceField(queryset=Stage.objects.all())
    version = forms.IntegerField(min_value=1)
    lost_reason = forms.ModelChoiceField(queryset=LostReason.objects.filter(active=True), required=False)


class DealFilterForm(forms.Form):
    SORTS = [
        ("newest", _("Newest")),
        ("title", _("Title")),
        ("-amount", _("Largest amount")),
        ("amount", _("Smallest amount")),
        ("close", _("Closing soonest")),
        ("-close", _("Closing latest")),
        ("stage", _("Stage")),
        ("updated", _("Recently updated")),
    ]

    q = forms.CharField(required=False, max_length=100)
    owner = forms.ModelChoiceField(queryset=_users(), required=False, empty_label=_("Any owner"))
    team = forms.ModelChoiceField(queryset=Team.objects.all(), required=False, empty_label=_("Any team"))
    close_month = forms.DateField(
        required=False,
        input_formats=["%Y-%m"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )
    tag = forms.ModelChoiceField(queryset=Tag.objects.all(), required=False, empty_label=_("Any tag"))
    pipeline = forms.ModelChoiceField(
        queryset=Pipeline.objects.all(), required=False, empty_label=_("Any pipeline")
    )
    status = forms.ChoiceField(choices=[("", _("Any status")), *Deal.Status.choices], required=False)
    sort = forms.ChoiceField(choices=SORTS, required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = _users()


class LineItemForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("Product"),
        queryset=Product.objects.filter(active=True),
        required=False,
        empty_label=_("Other…"),
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    quantity = forms.DecimalField(
        label=_("Quantity"), min_value=0.01, max_digits=10, decimal_places=2, initial=1
    )
    unit_price = forms.DecimalField(
        label=_("Unit price"), min_value=0, max_digits=14, decimal_places=2, required=False
    )

    def clean(self):
        data = super().clean()
        if not data.get("product") and not (data.get("description") or "").strip():
            self.add_error("description", _("Choose a product or describe the item."))
        if not data.get("product") and data.get("unit_price") is None:
            self.add_error("unit_price", _("Enter the unit price."))
        return data


class ShareForm(forms.Form):
    user = forms.ModelChoiceField(label=_("User"), queryset=get_user_model().objects.none())

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = _users()


# Tasks -----------------------------------------------------------------------------------------


def _default_due():
    tomorrow = timezone.localdate() + dt.timedelta(days=1)
    return timezone.make_aware(dt.datetime.combine(tomorrow, dt.time(9, 0)))


class TaskForm(forms.ModelForm):
    due_at = forms.DateTimeField(
        label=_("Due"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    remind = forms.BooleanField(label=_("Remind me when it is due"), required=False, initial=True)

    class Meta:
        model = Task
        fields = ["title", "due_at", "assignee", "priority", "cadence", "note"]
        widgets = {"note": forms.Textarea(attrs={"rows": 3, "maxlength": 5000})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = _users()
        self.fields["cadence"].queryset = Cadence.objects.filter(active=True)
        self.fields["cadence"].help_text = _("Creates the next task when this one is done or not answered.")
        if self.instance.pk is None:
            self.fields["due_at"].initial = _default_due()
        else:
            self.fields["remind"].initial = self.instance.remind_at is not None
        self.fields["title"].widget.attrs["autofocus"] = True


class CompleteForm(forms.Form):
    outcome = forms.ChoiceField(choices=Task.Outcome.choices, initial=Task.Outcome.DONE)
    note = forms.CharField(required=False, max_length=5000)


# Settings (admins) -----------------------------------------------------------------------------


class PipelineForm(forms.ModelForm):
    class Meta:
        model = Pipeline
        fields = ["name", "order", "active"]


class StageForm(forms.ModelForm):
    class Meta:
        model = Stage
        fields = ["order", "name", "probability", "rotting_days", "is_won", "is_lost"]
        widgets = {
            "order": forms.NumberInput(
                attrs={"min": 0, "class": "form-control form-control-sm", "style": "width:5rem"}
            ),
            "name": forms.TextInput(attrs={"class": "form-control form-control-sm"}),
            "probability": forms.NumberInput(
                attrs={"min": 0, "max": 100, "class": "form-control form-control-sm", "style": "width:6rem"}
            ),
            "rotting_days": forms.NumberInput(
                attrs={"min": 1, "class": "form-control form-control-sm", "style": "width:6rem"}
            ),
            "is_won": forms.CheckboxInput(attrs={"class": "form-check-input"}),
            "is_lost": forms.CheckboxInput(attrs={"class": "form-check-input"}),
        }

    def clean(self):
        data = super().clean()
        if data.get("is_won") and data.get("is_lost"):
            raise ValidationError(_("A stage cannot be both won and lost."))
        return data


class BaseStageFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        names = []
        kept = 0
        for form in self.forms:
            if not form.cleaned_data or form.cleaned_data.get("DELETE"):
                if form.cleaned_data.get("DELETE") and form.instance.pk and form.instance.deals.exists():
                    form.add_error(None, _("This stage still has deals: move them before deleting it."))
                continue
            kept += 1
            name = form.cleaned_data.get("name", "").strip().lower()
            if name in names:
                form.add_error("name", _("Two stages cannot have the same name."))
            names.append(name)
        if kept == 0:
            raise ValidationError(_("A pipeline needs at least one stage."))


StageFormSet = forms.inlineformset_factory(
    Pipeline, Stage, form=StageForm, formset=BaseStageFormSet, extra=2, can_delete=True
)


class LostReasonForm(forms.ModelForm):
    class Meta:
        model = LostReason
        fields = ["name", "order", "active"]


class ProductForm(forms.ModelForm):
    currency = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for c in CURRENCIES])

    class Meta:
        model = Product
        fields = ["name", "code", "unit_price", "currency", "active"]


class CadenceForm(forms.ModelForm):
    class Meta:
        model = Cadence
        fields = ["name", "interval_days", "repeat", "max_attempts", "active"]
