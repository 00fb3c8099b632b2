"""Forms of the quote, forecast and commission pages."""

import datetime as dt

from django import forms
from django.contrib.auth import get_user_model
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from crm.models import Team

from .models import CommissionRate, Pipeline, Product, Quote
from .money import CURRENCIES

LINE_ROWS = 3  # blank rows offered below the lines a quote already has


class QuoteForm(forms.Form):
    currency = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for c in CURRENCIES])
    valid_until = forms.DateField(label=_("Valid until"), widget=forms.DateInput(attrs={"type": "date"}))
    discount_percent = forms.DecimalField(
        label=_("Quote discount (%)"), min_value=0, max_value=100, max_digits=5, decimal_places=2, initial=0
    )
    tax_percent = forms.DecimalField(
        label=_("Tax (%)"), min_value=0, max_value=100, max_digits=5, decimal_places=2
    )
    notes = forms.CharField(
        label=_("Notes and terms"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "maxlength": 5000}),
    )


class QuoteLineForm(forms.Form):
    product = forms.ModelChoiceField(
        label=_("Product"), queryset=Product.objects.filter(active=True), required=False, empty_label="—"
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    quantity = forms.DecimalField(
        label=_("Qty"), min_value=0.01, max_digits=10, decimal_places=2, required=False
    )
    unit_price = forms.DecimalField(
        label=_("Unit price"), min_value=0, max_digits=14, decimal_places=2, required=False
    )
    discount_percent = forms.DecimalField(
        label=_("Discount (%)"), min_value=0, max_value=100, max_digits=5, decimal_places=2, required=False
    )

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not data.get("product") and not (data.get("description") or "").strip()


def line_formset(data=None, initial=None):
    initial = list(initial or [])
    formset_class = forms.formset_factory(QuoteLineForm, extra=LINE_ROWS, max_num=50, absolute_max=60)
    return formset_class(data, initial=initial, prefix="lines")


def lines_from(formset) -> list[dict]:
    """The filled-in rows as the services take them; blank rows are skipped."""
    lines = []
    for form in formset.forms:
        if not form.is_valid() or form.is_blank():
            continue
        data = form.cleaned_data
        lines.append(
            {
                "product": data.get("product"),
                "description": data.get("description") or "",
                "quantity": data.get("quantity") if data.get("quantity") is not None else 1,
                "unit_price": data.get("unit_price"),
                "discount_percent": data.get("discount_percent") or 0,
            }
        )
    return lines


def initial_for_quote(quote: Quote) -> tuple[dict, list[dict]]:
    header = {
        "currency": quote.currency,
        "valid_until": max(quote.valid_until, timezone.localdate()),
        "discount_percent": quote.discount_percent,
        "tax_percent": quote.tax_percent,
        "notes": quote.notes,
    }
    lines = [
        {
            "product": line.product_id,
            "description": line.description,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "discount_percent": line.discount_percent,
        }
        for line in quote.lines.all()
    ]
    return header, lines


class SendForm(forms.Form):
    contact_point = forms.IntegerField(required=False, widget=forms.HiddenInput)
    message = forms.CharField(
        label=_("Message"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 3})
    )


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("Note"), required=False, max_length=500)


class ForecastForm(forms.Form):
    start = forms.DateField(
        label=_("From month"),
        required=False,
        input_formats=["%Y-%m", "%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
    )
    months = forms.TypedChoiceField(
        label=_("Months"), choices=[(n, n) for n in (1, 3, 6, 12)], coerce=int, required=False, initial=3
    )
    owner = forms.ModelChoiceField(
        label=_("Sales rep"), queryset=get_user_model().objects.none(), required=False
    )

    def __init__(self, *args, owners=None, **kwargs):
        super().__init__(*args, **kwargs)
        if owners is not None:
            self.fields["owner"].queryset = owners

    def clean_start(self):
        start = self.cleaned_data.get("start")
        if start and not (dt.date(2000, 1, 1) <= start <= dt.date(2100, 1, 1)):
            raise forms.ValidationError(_("Choose a month between 2000 and 2100."))
        return start


class CommissionRateForm(forms.ModelForm):
    class Meta:
        model = CommissionRate
        fields = ["user", "team", "pipeline", "percent", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["team"].queryset = Team.objects.all()
        self.fields["pipeline"].queryset = Pipeline.objects.all()

    def clean(self):
        data = super().clean()
        clash = CommissionRate.objects.filter(
            user=data.get("user"), team=data.get("team"), pipeline=data.get("pipeline")
        ).exclude(pk=self.instance.pk)
        if clash.exists():
            raise forms.ValidationError(
                _("There is already a rate for this rep, team and pipeline: edit it instead.")
            )
        return data
