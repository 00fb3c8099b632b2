from django import forms
from django.utils.translation import gettext_lazy as _

from crm.models import Team
from customers.models import Tag

from .models import AutoReplyRule, Channel

CREDENTIAL_LABELS = {
    "channel_secret": _("Channel secret"),
    "access_token": _("Channel access token (long-lived)"),
    "app_id": _("App ID (AppID)"),
    "app_secret": _("App secret (AppSecret)"),
    "token": _("Token"),
    "aes_key": _("EncodingAESKey"),
    "corp_id": _("Corp ID"),
    "secret": _("Secret"),
}
WEEKDAYS = [
    ("0", _("Mon")),
    ("1", _("Tue")),
    ("2", _("Wed")),
    ("3", _("Thu")),
    ("4", _("Fri")),
    ("5", _("Sat")),
    ("6", _("Sun")),
]


class ChannelForm(forms.Form):
    """Channel settings; credentials are write-only: blank keeps the stored value."""

    name = forms.CharField(label=_("Name"), max_length=100)
    team = forms.ModelChoiceField(
        label=_("Team"),
        queryset=Team.objects.order_by("name"),
        required=False,
        help_text=_("New conversations on this channel go to this team."),
    )
    is_active = forms.BooleanField(label=_("Active (accept webhooks)"), required=False, initial=True)
    welcome_message = forms.CharField(
        label=_("Welcome message"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Sent when someone follows the account (unless a follow rule answers)."),
    )
    office_hours_start = forms.TimeField(
        label=_("Office hours from"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    office_hours_end = forms.TimeField(
        label=_("Office hours until"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
    )
    office_days = forms.MultipleChoiceField(
        label=_("Office days"),
        choices=WEEKDAYS,
        required=False,
        initial=["0", "1", "2", "3", "4"],
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, kind: str, channel: Channel | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind
        status = dict(channel.credential_status()) if channel else {}
        for name in Channel.CREDENTIAL_FIELDS.get(kind, ()):
            if name == "mode":
                self.fields["mode"] = forms.ChoiceField(
                    label=_("Message encryption"),
                    choices=[("plain", _("Plain text mode")), ("safe", _("Safe mode (encrypted)"))],
                    initial=(channel.credentials.get("mode") if channel else None) or "plain",
                )
                continue
            is_set = status.get(name, False)
            self.fields[name] = forms.CharField(
                label=CREDENTIAL_LABELS.get(name, name),
                required=False,
                strip=True,
                max_length=500,
                widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
                if name in Channel.SECRET_FIELDS
                else forms.TextInput(attrs={"autocomplete": "off"}),
                help_text=_("Set: leave blank to keep it.") if is_set else _("Not set."),
            )
            if name == "app_id" and channel:
                self.fields[name].initial = channel.credentials.get("app_id", "")
                self.fields[name].help_text = ""

    def clean_office_days(self):
        return "".join(sorted(set(self.cleaned_data.get("office_days") or [])))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("office_hours_start"), cleaned.get("office_hours_end")
        if (start is None) != (end is None):
            self.add_error(
                "office_hours_end", _("Give both the start and the end of office hours, or neither.")
            )
        return cleaned

    def credential_values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in Channel.CREDENTIAL_FIELDS.get(self.kind, ())}

    def setting_values(self) -> dict:
        names = ("name", "team", "is_active", "welcome_message", "office_hours_start", "office_hours_end")
        values = {name: self.cleaned_data.get(name) for name in names}
        values["welcome_message"] = values["welcome_message"] or ""
        values["office_days"] = self.cleaned_data.get("office_days", "")
        return values


class AutoReplyRuleForm(forms.ModelForm):
    add_tags = forms.CharField(
        label=_("Add tags"),
        required=False,
        max_length=500,
        help_text=_("Comma-separated; new tags are created."),
    )

    field_order = [
        "name",
        "trigger",
        "match",
        "pattern",
        "when",
        "reply_text",
        "add_tags",
        "priority",
        "is_active",
    ]

    class Meta:
        model = AutoReplyRule
        fields = ["name", "trigger", "match", "pattern", "when", "reply_text", "priority", "is_active"]
        widgets = {"reply_text": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["add_tags"].initial = ", ".join(t.name for t in self.instance.add_tags.all())
        self.fields["pattern"].required = False
        self.fields["pattern"].help_text = _(
            "For a regex, a group named tag, like (?P<tag>\\w+), adds the captured text as a tag."
        )

    def tag_names(self) -> list[str]:
        raw = self.cleaned_data.get("add_tags") or ""
        return [name.strip()[:50] for name in raw.split(",") if name.strip()]

    def tags(self) -> list[Tag]:
        from customers.services import tags_from_names

        return tags_from_names(self.tag_names())
