"""Writes of the admin area: inviting and changing users, switching them on and off, teams.

Every function checks that the actor is an admin itself, so no caller can skip the check, and runs
in one transaction: a failure (a taken extension, a mail server that refuses the invitation)
leaves nothing half-saved.
"""

from collections.abc import Callable, Iterable

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from . import roles
from .models import Team

User = get_user_model()


def _check_admin(actor) -> None:
    if actor is None or not roles.is_admin(actor):
        raise PermissionDenied(_("Only administrators may manage users and teams."))


def user_conflicts(*, username: str = "", email: str = "", extension: str = "", exclude=None) -> dict:
    """Field errors for values another user already holds; forms show them before anything is written."""
    others = User.objects.all()
    if exclude is not None and exclude.pk:
        others = others.exclude(pk=exclude.pk)
    errors = {}
    if username and others.filter(username__iexact=username).exists():
        errors["username"] = _("The username “%(username)s” is taken. Choose another one.") % {
            "username": username
        }
    if email:
        holder = others.filter(email__iexact=email).first()
        if holder is not None:
            errors["email"] = _("%(user)s already uses the e-mail address %(email)s.") % {
                "user": holder,
                "email": email,
            }
    if extension:
        holder = others.filter(is_active=True, extension=extension).first()
        if holder is not None:
            errors["extension"] = _(
                "Extension %(extension)s belongs to %(user)s. Give each active user their own extension."
            ) % {"extension": extension, "user": holder}
    return errors


def _raise_conflicts(**values) -> None:
    errors = user_conflicts(**values)
    if errors:
        raise ValidationError(errors)


def _set_role(user, role: str) -> None:
    if role not in roles.ROLES:
        raise ValidationError({"role": _("Choose one of the roles in the list.")})
    user.groups.remove(*Group.objects.filter(name__in=roles.ROLES).exclude(name=role))
    user.groups.add(Group.objects.get(name=role))
    if hasattr(user, "_crm_role"):
        del user._crm_role


def _send_set_password_link(user, absolute_url: Callable[[str], str]) -> None:
    """E-mail the user a one-time link to choose their password, in their own language."""
    path = reverse(
        "password_reset_confirm",
        kwargs={
            "uidb64": urlsafe_base64_encode(force_bytes(user.pk)),
            "token": default_token_generator.make_token(user),
        },
    )
    context = {
        "user": user,
        "link": absolute_url(path),
        "valid_days": max(1, settings.PASSWORD_RESET_TIMEOUT // 86400),
    }
    with translation.override(user.language or translation.get_language()):
        subject = render_to_string("crm/manage/invitation_subject.txt", context).strip()
        body = render_to_string("crm/manage/invitation_email.txt", context)
    send_mail(subject, body, None, [user.email])


@transaction.atomic
def user_invite(
    *,
    actor,
    username: str,
    email: str,
    role: str,
    absolute_url: Callable[[str], str],
    first_name: str = "",
    last_name: str = "",
    team: Team | None = None,
    extension: str = "",
    language: str = "",
):
    """Create an active user without a password and e-mail them a link to set one.

    `absolute_url` turns a path into a full URL (request.build_absolute_uri), for the link in the mail.
    The mail goes out inside the transaction: if it cannot be sent, the user is not created either.
    """
    _check_admin(actor)
    username, email, extension = username.strip(), email.strip(), extension.strip()
    _raise_conflicts(username=username, email=email, extension=extension)
    user = User(
        username=username,
        email=email,
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        team=team,
        extension=extension,
        language=language,
        is_active=True,
    )
    user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    _set_role(user, role)
    _send_set_password_link(user, absolute_url)
    return user


@transaction.atomic
def user_invitation_resend(*, actor, user, absolute_url: Callable[[str], str]) -> None:
    """Send a fresh set-password link, e.g. when the first one expired before it was used."""
    _check_admin(actor)
    if not user.is_active:
        raise ValidationError(_("%(user)s is deactivated; reactivate them first.") % {"user": user})
    if not user.email:
        raise ValidationError(_("%(user)s has no e-mail address to send the link to.") % {"user": user})
    _send_set_password_link(user, absolute_url)


@transaction.atomic
def user_update(
    *,
    actor,
    user,
    first_name: str,
    last_name: str,
    email: str,
    role: str,
    team: Team | None,
    extension: str,
    language: str,
    timezone: str,
):
    _check_admin(actor)
    email, extension = email.strip(), extension.strip()
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.pk == actor.pk and role != roles.ADMIN and not user.is_superuser:
        raise ValidationError({"role": _("You cannot take away your own Admin role; ask another admin.")})
    _raise_conflicts(email=email, extension=extension if user.is_active else "", exclude=user)
    user.first_name = first_name.strip()
    user.last_name = last_name.strip()
    user.email = email
    user.team = team
    user.extension = extension
    user.language = language
    user.timezone = timezone
    user.full_clean(exclude=["password"])
    user.save()
    _set_role(user, role)
    return user


@transaction.atomic
def user_set_active(*, actor, user, active: bool):
    """Let a user sign in again, or stop them; nothing of theirs is deleted either way."""
    _check_admin(actor)
    user = User.objects.select_for_update().get(pk=user.pk)
    if not active and user.pk == actor.pk:
        raise ValidationError(_("You cannot deactivate your own account; ask another admin."))
    if active and not user.is_active:
        _raise_conflicts(extension=user.extension, exclude=user)
    if user.is_active != active:
        user.is_active = active
        user.save(update_fields=["is_active"])
        if not active:
            from sales.assignment import owner_reassign_on_deactivate

            owner_reassign_on_deactivate(user=user, actor=actor)
    return user


@transaction.atomic
def team_save(*, actor, team: Team | None = None, name: str, manager=None, members: Iterable = ()) -> Team:
    """Create or change a team. `members` is the whole membership: users left out leave the team."""
    _check_admin(actor)
    name = name.strip()
    if not name:
        raise ValidationError({"name": _("Enter the team's name.")})
    clashing = Team.objects.filter(name__iexact=name)
    if team is not None:
        clashing = clashing.exclude(pk=team.pk)
    if clashing.exists():
        raise ValidationError({"name": _("There is already a team called “%(name)s”.") % {"name": name}})
    if team is None:
        team = Team(name=name, manager=manager)
    else:
        team = Team.objects.select_for_update().get(pk=team.pk)
        team.name, team.manager = name, manager
    team.save()
    member_ids = {member.pk for member in members}
    # Saved one by one, not with update(), so the audit log records each user's move.
    for user in User.objects.filter(team=team).exclude(pk__in=member_ids).order_by("pk"):
        user.team = None
        user.save(update_fields=["team"])
    for user in User.objects.filter(pk__in=member_ids).exclude(team=team).order_by("pk"):
        user.team = team
        user.save(update_fields=["team"])
    return team
