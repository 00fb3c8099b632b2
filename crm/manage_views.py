"""The admin area inside the app: users, teams, and the audit trail. Only admins get in."""

import logging
from functools import wraps

from auditlog.models import LogEntry
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.views import redirect_to_login
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from . import roles, services
from .forms import (
    NO_ROLE,
    NO_TEAM,
    AccessFilterForm,
    ChangeFilterForm,
    TeamForm,
    UserEditForm,
    UserFilterForm,
    UserInviteForm,
)
from .models import AccessLog, Team
from .pagination import paginate

logger = logging.getLogger(__name__)
User = get_user_model()


def admin_required(view):
    """Anonymous visitors go to the login page; signed-in users who are not admins get 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not roles.is_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def _attach_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _render_list(request, template, partial, context):
    """The whole page, or only its table when htmx asks for it (filters, paging)."""
    query = request.GET.copy()
    query.pop("page", None)
    context["query"] = query.urlencode()
    if request.htmx and request.htmx.target == partial:
        template += f"#{partial}"
    response = render(request, template, context)
    response["Vary"] = "HX-Request"
    return response


# Users


def _role_of(user) -> str | None:
    """The user's role from their prefetched groups, so a list of users costs no query per row."""
    if user.is_superuser:
        return roles.ADMIN
    names = {group.name for group in user.groups.all()}
    return next((role for role in reversed(roles.ROLES) if role in names), None)


@admin_required
def user_list(request):
    form = UserFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    users = User.objects.select_related("team").prefetch_related("groups")
    if q := filters.get("q", "").strip():
        users = users.filter(
            Q(username__icontains=q)
            | Q(first_name__icontains=q)
            | Q(last_name__icontains=q)
            | Q(email__icontains=q)
            | Q(extension=q)
        )
    if role := filters.get("role"):
        users = (
            users.exclude(groups__name__in=roles.ROLES).exclude(is_superuser=True)
            if role == NO_ROLE
            else users.filter(groups__name=role)
        )
    if team := filters.get("team"):
        users = users.filter(team__isnull=True) if team == NO_TEAM else users.filter(team_id=team)
    if status := filters.get("status"):
        users = users.filter(is_active=status == "active")
    page = paginate(users.order_by("-is_active", "username", "id"), request.GET.get("page"))
    for user in page.items:
        user.role = _role_of(user)
        user.role_label = roles.ROLE_LABELS.get(user.role, "")
    context = {
        "form": form,
        "page": page,
        "users": page.items,
        "filtered": bool(filters and any(filters.values())),
    }
    return _render_list(request, "crm/manage/user_list.html", "user-table", context)


@admin_required
@require_http_methods(["GET", "POST"])
def user_invite(request):
    form = UserInviteForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_invite(
                actor=request.user, absolute_url=request.build_absolute_uri, **form.cleaned_data
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        except OSError as exc:
            logger.error("Invitation e-mail for %s could not be sent: %s", form.cleaned_data["username"], exc)
            form.add_error(
                None,
                _(
                    "The invitation e-mail could not be sent, so the user was not created. "
                    "Check the mail server settings and try again."
                ),
            )
        else:
            messages.success(
                request,
                _("%(user)s is invited: a link to set a password was sent to %(email)s.")
                % {"user": user, "email": user.email},
            )
            return redirect("manage:users")
    return render(request, "crm/manage/user_form.html", {"form": form, "inviting": True})


@admin_required
@require_http_methods(["GET", "POST"])
def user_edit(request, pk):
    target = get_object_or_404(User.objects.select_related("team"), pk=pk)
    form = UserEditForm(request.POST or None, user=target)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(actor=request.user, user=target, **form.cleaned_data)
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Changes to %(user)s saved.") % {"user": target})
            return redirect("manage:users")
    context = {
        "form": form,
        "target": target,
        "inviting": False,
        "is_self": target.pk == request.user.pk,
        "history_query": f"content_type={ContentType.objects.get_for_model(User).pk}&object={target.pk}",
    }
    return render(request, "crm/manage/user_form.html", context)


def _user_set_active(request, pk, *, active: bool):
    target = get_object_or_404(User, pk=pk)
    if request.method == "GET":
        return render(
            request,
            "crm/manage/user_confirm_active.html",
            {"target": target, "active": active, "is_self": target.pk == request.user.pk},
        )
    try:
        services.user_set_active(actor=request.user, user=target, active=active)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("manage:user-edit", pk=target.pk)
    if active:
        messages.success(request, _("%(user)s is active again and can sign in.") % {"user": target})
    else:
        messages.success(
            request,
            _("%(user)s is deactivated: they can no longer sign in. Their records are kept.")
            % {"user": target},
        )
    return redirect("manage:users")


@admin_required
@require_http_methods(["GET", "POST"])
def user_deactivate(request, pk):
    return _user_set_active(request, pk, active=False)


@admin_required
@require_http_methods(["GET", "POST"])
def user_activate(request, pk):
    return _user_set_active(request, pk, active=True)


@admin_required
@require_POST
def user_invitation_resend(request, pk):
    target = get_object_or_404(User, pk=pk)
    try:
        services.user_invitation_resend(
            actor=request.user, user=target, absolute_url=request.build_absolute_uri
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    except OSError as exc:
        logger.error("Set-password e-mail for %s could not be sent: %s", target.username, exc)
        messages.error(
            request, _("The e-mail could not be sent. Check the mail server settings and try again.")
        )
    else:
        messages.success(
            request,
            _("A new link to set a password was sent to %(user)s at %(email)s.")
            % {"user": target, "email": target.email},
        )
    return redirect("manage:user-edit", pk=target.pk)


# Teams


@admin_required
def team_list(request):
    teams = Team.objects.select_related("manager").annotate(
        member_count=Count("members", filter=Q(members__is_active=True)),
        inactive_count=Count("members", filter=Q(members__is_active=False)),
    )
    return render(request, "crm/manage/team_list.html", {"teams": teams.order_by("name")})


def _team_form(request, team: Team | None):
    form = TeamForm(request.POST or None, team=team)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = services.team_save(
                actor=request.user,
                team=team,
                name=data["name"],
                manager=data["manager"],
                members=data["members"],
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            message = _("Team “%(team)s” saved.") if team else _("Team “%(team)s” created.")
            messages.success(request, message % {"team": saved})
            return redirect("manage:teams")
    return render(request, "crm/manage/team_form.html", {"form": form, "team": team})


@admin_required
@require_http_methods(["GET", "POST"])
def team_create(request):
    return _team_form(request, None)


@admin_required
@require_http_methods(["GET", "POST"])
def team_edit(request, pk):
    return _team_form(request, get_object_or_404(Team, pk=pk))


# Audit


@admin_required
def audit(request):
    if request.GET.get("tab") == "access":
        return _audit_access(request)
    return _audit_changes(request)


def _audit_changes(request):
    form = ChangeFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    entries = LogEntry.objects.select_related("actor", "content_type")
    if filters.get("content_type"):
        entries = entries.filter(content_type_id=filters["content_type"])
    if filters.get("actor"):
        entries = entries.filter(actor=filters["actor"])
    if filters.get("object"):
        entries = entries.filter(object_pk=filters["object"])
    page = paginate(entries.order_by("-timestamp", "-id"), request.GET.get("page"), per_page=50)
    _describe_changes(page.items)
    context = {"tab": "changes", "form": form, "page": page, "entries": page.items}
    return _render_list(request, "crm/manage/audit.html", "audit-table", context)


def _audit_access(request):
    form = AccessFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    rows = AccessLog.objects.select_related("user", "content_type")
    if filters.get("action"):
        rows = rows.filter(action=filters["action"])
    if filters.get("user"):
        rows = rows.filter(user=filters["user"])
    page = paginate(rows.order_by("-created_at", "-id"), request.GET.get("page"), per_page=50)
    _describe_access(page.items)
    context = {"tab": "access", "form": form, "page": page, "rows": page.items}
    return _render_list(request, "crm/manage/audit.html", "audit-table", context)


def _field(model, name):
    """The model field a change refers to; None for names that are not fields of the model (any more)."""
    if model is None:
        return None
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return None
    return field if field.concrete or field.many_to_many else None


def _generated(field) -> bool:
    """Fields the database or Django fills in by itself: not worth listing when a record is created."""
    return (
        field.primary_key
        or getattr(field, "auto_now", False)
        or getattr(field, "auto_now_add", False)
        or (field.has_default() and callable(field.default))
    )


def _names_by_pk(wanted: dict) -> dict:
    """One query per related model for the whole page: {(model, pk string): str(object)}."""
    names = {}
    for model, pks in wanted.items():
        valid = set()
        for pk in pks:
            try:
                valid.add(model._meta.pk.to_python(pk))
            except ValidationError:
                continue
        for obj in model._base_manager.filter(pk__in=valid):
            names[(model, str(obj.pk))] = str(obj)
    return names


def _empty(value) -> bool:
    return value in (None, "None", "")


def _shown_changes(entry):
    """(field, values) pairs worth showing: a new record lists only the values someone chose."""
    for name, values in (entry.changes or {}).items():
        field = _field(entry.model, name)
        if entry.model is not None and field is None:
            continue
        if entry.action == LogEntry.Action.CREATE and isinstance(values, list) and field is not None:
            default = field.get_default() if field.has_default() and not callable(field.default) else None
            if _generated(field) or _empty(values[-1]) or str(values[-1]) == str(default):
                continue
        yield name, field, values


def _describe_changes(entries) -> None:
    """Give each log entry `change_rows`: {label, old, new} or {label, related} for many-to-many changes.

    Foreign keys are shown by name, looked up for the whole page at once rather than row by row.
    """
    wanted = {}
    for entry in entries:
        entry.model = entry.content_type.model_class()
        entry.model_label = entry.model._meta.verbose_name if entry.model else entry.content_type.model
        for _name, field, values in _shown_changes(entry):
            if field is not None and field.many_to_one and isinstance(values, list):
                wanted.setdefault(field.related_model, set()).update(v for v in values if not _empty(v))
    names = _names_by_pk(wanted)

    def shown(field, value):
        if _empty(value):
            return "—"
        if field is None:
            return str(value)
        if field.many_to_one:
            return names.get((field.related_model, str(value)), _("deleted (#%(pk)s)") % {"pk": value})
        if field.get_internal_type() == "BooleanField":
            return _("Yes") if str(value) == "True" else _("No")
        if field.choices:
            return str({str(key): label for key, label in field.flatchoices}.get(str(value), value))
        return str(value)

    for entry in entries:
        rows = []
        for name, field, values in _shown_changes(entry):
            label = str(field.verbose_name) if field is not None else name
            if isinstance(values, dict):
                operation = {"add": "+", "delete": "−"}.get(values.get("operation"), "")
                rows.append(
                    {"label": label, "related": f"{operation} {', '.join(values.get('objects', []))}"}
                )
            elif isinstance(values, list) and len(values) == 2:
                rows.append({"label": label, "old": shown(field, values[0]), "new": shown(field, values[1])})
        entry.change_rows = rows


def _describe_access(rows) -> None:
    """Name the object each access-log row points at, one query per kind of object on the page."""
    wanted = {}
    for row in rows:
        row.model = row.content_type.model_class() if row.content_type else None
        row.model_label = row.model._meta.verbose_name if row.model else ""
        if row.model is not None and row.object_id:
            wanted.setdefault(row.model, set()).add(row.object_id)
    names = _names_by_pk(wanted)
    for row in rows:
        row.object_name = names.get((row.model, row.object_id), "") if row.object_id else ""
        row.object_url = ""
        if row.object_name and row.model._meta.label_lower == "customers.customer":
            row.object_url = reverse("customers:detail", args=[row.object_id])
        row.filter_items = sorted(row.filters.items()) if isinstance(row.filters, dict) else []
