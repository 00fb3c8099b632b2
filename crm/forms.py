"""Forms of the admin area. They validate what was typed; crm.services writes."""

import zoneinfo

from auditlog.registry import auditlog
from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.contrib.contenttypes.models import ContentType
from django.utils.translation import gettext_lazy as _

from . import roles, services
from .models import AccessLog, Team

User = get_user_model()

ROLE_CHOICES = [(role, roles.ROLE_LABELS[role]) for role in roles.ROLES]
NO_ROLE = "none"
NO_TEAM = "none"


def _language_choices():
    return [("", _("Browser default")), *settings.LANGUAGES]


def _timezone_choices():
    names = sorted(
        name for name in zoneinfo.available_timezones() if "/" in name and not name.startswith("Etc/")
    )
    return [("", _("Default (%(zone)s)") % {"zone": settings.TIME_ZONE}), ("UTC", "UTC")] + [
        (name, name.replace("_", " ")) for name in names
    ]


class UserFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=100)
    role = forms.ChoiceField(label=_("Role"), required=False)
    team = forms.ChoiceField(label=_("Team"), required=False)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Active and inactive")), ("active", _("Active")), ("inactive", _("Inactive"))],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", _("All roles")), *ROLE_CHOICES, (NO_ROLE, _("No role"))]
        self.fields["team"].choices = [
            ("", _("All teams")),
            *((str(pk), name) for pk, name in Team.objects.values_list("pk", "name")),
            (NO_TEAM, _("No team")),
        ]


class _UserFieldsForm(forms.Form):
    """The fields an admin sets on a user, whether inviting them or editing them later."""

    first_name = forms.CharField(label=_("First name"), max_length=150, required=False)
    last_name = forms.CharField(label=_("Last name"), max_length=150, required=False)
    email = forms.EmailField(
        label=_("E-mail"),
        max_length=254,
        error_messages={"required": _("Enter an e-mail address: the set-password link goes there.")},
    )
    role = forms.ChoiceField(
        label=_("Role"), choices=ROLE_CHOICES, error_messages={"required": _("Choose a role.")}
    )
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.all(), required=False, empty_label=_("No team")
    )
    extension = forms.CharField(
        label=_("Phone extension"),
        max_length=20,
        required=False,
        help_text=_("The PBX extension whose calls pop up on this user's screen."),
    )
    language = forms.ChoiceField(label=_("Language"), required=False)

    user = None  # the user being edited; None while inviting

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["language"].choices = _language_choices()

    def clean(self):
        cleaned = super().clean()
        conflicts = services.user_conflicts(
            username=cleaned.get("username", ""),
            email=cleaned.get("email", ""),
            extension=cleaned.get("extension", "") if self.user is None or self.user.is_active else "",
            exclude=self.user,
        )
        for field, message in conflicts.items():
            self.add_error(field, message)
        return cleaned


class UserInviteForm(_UserFieldsForm):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        validators=[UnicodeUsernameValidator()],
        help_text=_("What they type to sign in: letters, digits and @ . + - _ only."),
        error_messages={"required": _("Enter a username.")},
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "off", "autocapitalize": "none"}),
    )

    field_order = ["username", "email", "first_name", "last_name", "role", "team", "extension", "language"]


class UserEditForm(_UserFieldsForm):
    timezone = forms.ChoiceField(label=_("Time zone"), required=False)

    field_order = ["first_name", "last_name", "email", "role", "team", "extension", "language", "timezone"]

    def __init__(self, *args, user, **kwargs):
        self.user = user
        kwargs.setdefault(
            "initial",
            {
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "role": roles.user_role(user),
                "team": user.team_id,
                "extension": user.extension,
                "language": user.language,
                "timezone": user.timezone,
            },
        )
        super().__init__(*args, **kwargs)
        self.fields["timezone"].choices = _timezone_choices()
        self.fields["first_name"].widget.attrs["autofocus"] = True


class _MemberChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, user):
        label = f"{user} ({user.username})"
        if user.team is not None:
            label += f" · {user.team}"
        if not user.is_active:
            label += f" · {_('inactive')}"
        return label


class TeamForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        error_messages={"required": _("Enter the team's name.")},
        widget=forms.TextInput(attrs={"autofocus": True}),
    )
    manager = forms.ModelChoiceField(
        label=_("Manager"), queryset=User.objects.none(), required=False, empty_label=_("No manager")
    )
    members = _MemberChoiceField(
        label=_("Members"),
        queryset=User.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 12, "class": "form-select"}),
        help_text=_(
            "Hold Ctrl (⌘ on a Mac) to choose several. Choosing someone from another team moves them here."
        ),
    )

    def __init__(self, *args, team: Team | None = None, **kwargs):
        self.team = team
        if team is not None:
            kwargs.setdefault(
                "initial",
                {
                    "name": team.name,
                    "manager": team.manager_id,
                    "members": list(team.members.values_list("pk", flat=True)),
                },
            )
        super().__init__(*args, **kwargs)
        people = User.objects.filter(is_active=True)
        if team is not None:
            # Deactivated members stay listed so saving the form does not drop them silently.
            people = people | User.objects.filter(team=team)
        self.fields["manager"].queryset = User.objects.filter(is_active=True).order_by(
            "first_name", "username"
        )
        self.fields["members"].queryset = people.select_related("team").order_by(
            "-is_active", "first_name", "last_name", "username"
        )

    def clean_name(self):
        name = self.cleaned_data["name"].strip()
        clashing = Team.objects.filter(name__iexact=name)
        if self.team is not None:
            clashing = clashing.exclude(pk=self.team.pk)
        if clashing.exists():
            raise forms.ValidationError(_("There is already a team called “%(name)s”.") % {"name": name})
        return name


def _audited_content_types():
    types = ContentType.objects.get_for_models(*auditlog.get_models())
    return sorted(
        ((ct, model) for model, ct in types.items()),
        key=lambda pair: (str(pair[1]._meta.app_config.verbose_name), str(pair[1]._meta.verbose_name)),
    )


class ChangeFilterForm(forms.Form):
    content_type = forms.ChoiceField(label=_("Record type"), required=False)
    actor = forms.ModelChoiceField(
        label=_("Changed by"), queryset=User.objects.none(), required=False, empty_label=_("Anyone")
    )
    object = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["content_type"].choices = [("", _("All records"))] + [
            (str(ct.pk), f"{model._meta.app_config.verbose_name} · {model._meta.verbose_name}")
            for ct, model in _audited_content_types()
        ]
        self.fields["actor"].queryset = User.objects.order_by("username")


class AccessFilterForm(forms.Form):
    action = forms.ChoiceField(
        label=_("Action"), required=False, choices=[("", _("All actions")), *AccessLog.Action.choices]
    )
    user = forms.ModelChoiceField(
        label=_("User"), queryset=User.objects.none(), required=False, empty_label=_("Anyone")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["user"].queryset = User.objects.order_by("username")
