from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from crm.models import Team

from .models import Consent, ContactPoint, Customer, Tag
from .normalise import email_normalise, phone_normalise


def _lines(text):
    return [line.strip() for line in (text or "").replace(",", "\n").splitlines() if line.strip()]


class CustomerForm(forms.ModelForm):
    phones = forms.CharField(
        label=_("Phone numbers"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "0912-345-678"}),
        help_text=_("One per line, in any format: 0912-345-678, +886 912 345 678, (02)2345-6789#12."),
    )
    emails = forms.CharField(
        label=_("E-mail addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": "name@example.com"}),
        help_text=_("One per line."),
    )
    tag_names = forms.CharField(
        label=_("Tags"), required=False, help_text=_("Separated by commas, e.g. VIP, Taipei.")
    )
    attributes = forms.CharField(
        label=_("Custom attributes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "birthday: 1988-05-02\nmember_level: gold"}),
        help_text=_("One per line as “name: value”."),
    )

    field_order = [
        "name",
        "kind",
        "phones",
        "emails",
        "organisation",
        "lifecycle_stage",
        "source",
        "owner",
        "team",
        "tag_names",
        "attributes",
    ]

    class Meta:
        model = Customer
        fields = ["kind", "name", "organisation", "lifecycle_stage", "source", "owner", "team"]

    def __init__(self, *args, creating=True, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organisation"].queryset = Customer.objects.filter(
            kind=Customer.Kind.ORGANISATION
        ).order_by("name")
        self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["team"].queryset = Team.objects.all()
        self.fields["name"].widget.attrs["autofocus"] = True
        if creating:
            self.fields["owner"].help_text = _("Leave empty to let the assignment rules choose.")
        if not creating:
            del self.fields["phones"]
            del self.fields["emails"]
            self.fields["tag_names"].initial = ", ".join(t.name for t in self.instance.tags.all())
            self.fields["attributes"].initial = "\n".join(
                f"{key}: {value}" for key, value in (self.instance.custom_attributes or {}).items()
            )

    def clean_phones(self):
        phones = _lines(self.cleaned_data.get("phones"))
        errors = []
        for phone in phones:
            try:
                phone_normalise(phone)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return phones

    def clean_emails(self):
        emails = _lines(self.cleaned_data.get("emails"))
        errors = []
        for email in emails:
            try:
                email_normalise(email)
            except ValidationError as exc:
                errors.extend(exc.messages)
        if errors:
            raise ValidationError(errors)
        return emails

    def clean_tag_names(self):
        names = [n.strip() for n in (self.cleaned_data.get("tag_names") or "").split(",") if n.strip()]
        if any(len(n) > 50 for n in names):
            raise ValidationError(_("A tag can be at most 50 characters."))
        return names

    def clean_attributes(self):
        attributes = {}
        for number, line in enumerate((self.cleaned_data.get("attributes") or "").splitlines(), start=1):
            if not line.strip():
                continue
            key, separator, value = line.partition(":")
            key = key.strip()
            if not separator or not key:
                raise ValidationError(_("Line %(number)s: write “name: value”.") % {"number": number})
            if len(key) > 50 or len(value.strip()) > 500:
                raise ValidationError(
                    _("Line %(number)s: names are at most 50 characters, values 500.") % {"number": number}
                )
            attributes[key] = value.strip()
        if len(attributes) > 50:
            raise ValidationError(_("At most 50 custom attributes."))
        return attributes

    def clean(self):
        cleaned = super().clean()
        organisation = cleaned.get("organisation")
        if organisation and cleaned.get("kind") == Customer.Kind.ORGANISATION:
            self.add_error("organisation", _("An organisation cannot belong to another organisation."))
        if organisation and self.instance.pk and organisation.pk == self.instance.pk:
            self.add_error("organisation", _("A customer cannot belong to itself."))
        return cleaned


class NoteForm(forms.Form):
    text = forms.CharField(
        label=_("Note"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": _("What happened? Ctrl+Enter saves.")}),
        error_messages={"required": _("Write something before saving the note.")},
    )


class ContactPointForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind"), choices=ContactPoint.Kind.choices)
    value = forms.CharField(label=_("Value"), max_length=255)
    label = forms.CharField(label=_("Label"), max_length=50, required=False)


class ConsentForm(forms.Form):
    purpose = forms.ChoiceField(label=_("Purpose"), choices=Consent.Purpose.choices)
    channel = forms.ChoiceField(label=_("Channel"), choices=Consent.Channel.choices)
    granted = forms.TypedChoiceField(
        label=_("Choice"),
        choices=[("1", _("Granted")), ("0", _("Withdrawn"))],
        coerce=lambda v: v == "1",
    )
    source = forms.CharField(label=_("Source"), max_length=100, required=False, initial="phone")


class ConsentChangeForm(ConsentForm):
    """A consent change for the record of requests: where it came from is required, and when it was
    given may be earlier than now."""

    source = forms.CharField(
        label=_("Source"), max_length=100, help_text=_("e.g. signed form, phone call, LINE")
    )
    occurred_at = forms.DateTimeField(
        label=_("When"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        help_text=_("Leave empty for now."),
    )


class ShareForm(forms.Form):
    user = forms.ModelChoiceField(label=_("Share with"), queryset=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")


class CustomerFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    owner = forms.ModelChoiceField(label=_("Owner"), queryset=None, required=False)
    team = forms.ModelChoiceField(label=_("Team"), queryset=None, required=False)
    tag = forms.ModelChoiceField(label=_("Tag"), queryset=None, required=False)
    lifecycle = forms.ChoiceField(
        label=_("Lifecycle"), choices=[("", _("Any stage")), *Customer.Lifecycle.choices], required=False
    )
    sort = forms.ChoiceField(
        label=_("Sort"),
        required=False,
        choices=[
            ("newest", _("Newest first")),
            ("oldest", _("Oldest first")),
            ("name", _("Name A–Z")),
            ("-name", _("Name Z–A")),
            ("updated", _("Recently updated")),
        ],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = get_user_model().objects.filter(is_active=True).order_by("username")
        self.fields["owner"].empty_label = _("Any owner")
        self.fields["team"].queryset = Team.objects.all()
        self.fields["team"].empty_label = _("Any team")
        self.fields["tag"].queryset = Tag.objects.all()
        self.fields["tag"].empty_label = _("Any tag")
