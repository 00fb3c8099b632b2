from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import Team

from .models import Category


class ArticleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    category = forms.ModelChoiceField(
        label=_("Category"), queryset=Category.objects.filter(active=True), required=False
    )
    body = forms.CharField(
        label=_("Text"),
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 16}),
        help_text=_("Plain text; blank lines separate paragraphs. Saving keeps a new version as a draft."),
    )


class CannedReplyForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=100)
    shortcut = forms.CharField(
        label=_("Shortcut"),
        max_length=30,
        required=False,
        help_text=_("e.g. thanks: type /thanks to find it."),
    )
    body = forms.CharField(
        label=_("Text"),
        max_length=10_000,
        widget=forms.Textarea(attrs={"rows": 8}),
        help_text=_(
            "Variables: {{ customer.name }}, {{ customer.first_name }}, {{ agent.name }}, "
            "{{ agent.first_name }}, {{ ticket.number }}, {{ ticket.subject }}, {{ today }}."
        ),
    )
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)
    shared = forms.BooleanField(label=_("Shared with everyone"), required=False, initial=True)
