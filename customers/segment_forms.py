import json

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models import Team

from . import segments
from .models import Segment


class SegmentForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    description = forms.CharField(label=_("Description"), max_length=500, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=Segment.Kind.choices, initial=Segment.Kind.DYNAMIC)
    team = forms.ModelChoiceField(label=_("Team"), queryset=Team.objects.all(), required=False)
    shared = forms.BooleanField(
        label=_("Shared with everyone"),
        required=False,
        help_text=_("Others may use it for lists, broadcasts and reports; only you edit it."),
    )
    rules = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, segment: Segment | None = None, **kwargs):
        if segment is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "name": segment.name,
                "description": segment.description,
                "kind": segment.kind,
                "team": segment.team_id,
                "shared": segment.shared,
                "rules": json.dumps(segment.rules or segments.EMPTY_RULES),
            }
        super().__init__(*args, **kwargs)
        if segment is not None:
            self.fields["kind"].disabled = True

    def clean_rules(self):
        return parse_rules(self.cleaned_data.get("rules"))

    def clean(self):
        data = super().clean()
        if data.get("kind") == Segment.Kind.DYNAMIC and "rules" in data and not data["rules"]["rules"]:
            self.add_error(None, _("Add at least one condition."))
        return data


def parse_rules(text) -> dict:
    """Rules as the builder posts them (JSON text), validated."""
    if not text:
        return dict(segments.EMPTY_RULES)
    try:
        raw = json.loads(text.replace("\\u0000", "").replace("\x00", ""))
    except (TypeError, ValueError):
        raise ValidationError(_("The rules could not be read; reload the page and try again.")) from None
    return segments.validate_rules(raw)


def customer_ids(values) -> list[int]:
    """The whole-number ids in a posted list; anything else is ignored."""
    return [int(v) for v in values if v.isdigit() and len(v) < 19][:1000]
