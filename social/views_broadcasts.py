"""Broadcast pages: list, compose (with A/B variants), detail with audience preview and live progress."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import formset_factory
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.pagination import paginate

from . import broadcasts
from .inbox_forms import BroadcastForm, ScheduleForm, VariantForm
from .models import Broadcast

VariantFormSet = formset_factory(
    VariantForm, extra=0, min_num=1, max_num=broadcasts.MAX_VARIANTS, validate_max=True
)


def _require(user):
    if not user.has_perm(broadcasts.PERMISSION):
        raise PermissionDenied


@login_required
def broadcast_list(request):
    _require(request.user)
    page = paginate(broadcasts.broadcasts_list(), request.GET.get("page"))
    return render(request, "social/broadcast_list.html", {"page": page, "broadcasts": page.items})


@login_required
@require_http_methods(["GET", "POST"])
def broadcast_create(request):
    _require(request.user)
    form = BroadcastForm(request.POST or None, user=request.user)
    variants = VariantFormSet(
        request.POST or None,
        request.FILES or None,
        prefix="variant",
        initial=None if request.method == "POST" else [{"label": "A", "percent": 100, "kind": "text"}],
    )
    errors = []
    if request.method == "POST" and request.GET.get("add") == "1":
        pass  # "Add an A/B variant": show the form again with one more variant, nothing checked yet
    elif request.method == "POST" and form.is_valid() and variants.is_valid():
        data = form.cleaned_data
        try:
            broadcast = broadcasts.broadcast_create(
                actor=request.user,
                name=data["name"],
                channel=data["channel"],
                tags=data["tags"],
                tag_match=data["tag_match"],
                lifecycle_stage=data["lifecycle_stage"],
                segment=data["segment"],
                variants=[
                    broadcasts.VariantInput(**variant.cleaned_data)
                    for variant in variants
                    if variant.cleaned_data and not variant.cleaned_data.get("DELETE")
                ],
            )
        except ValidationError as exc:
            errors = exc.messages
        else:
            messages.success(request, _("Draft saved. Check the recipients, then send or schedule it."))
            return redirect("broadcasts:detail", pk=broadcast.pk)
    elif request.method == "POST":
        errors = list(variants.non_form_errors())
    return render(
        request, "social/broadcast_form.html", {"form": form, "variants": variants, "errors": errors}
    )


def _broadcast(request, pk) -> Broadcast:
    _require(request.user)
    return get_object_or_404(Broadcast.objects.select_related("channel", "created_by", "segment"), pk=pk)


@login_required
def broadcast_detail(request, pk):
    broadcast = _broadcast(request, pk)
    context = {
        "broadcast": broadcast,
        "variants": list(broadcast.variants.all()),
        "live": bool(getattr(request, "scope", None)),
    }
    if request.htmx and request.htmx.target == "broadcast-progress":
        return render(request, "social/broadcast_detail.html#progress", context)
    if broadcast.status in (Broadcast.Status.DRAFT, Broadcast.Status.SCHEDULED):
        context["preview"] = broadcasts.broadcast_preview(broadcast)
    context["tags"] = list(broadcast.tags.all())
    context["schedule_form"] = ScheduleForm()
    return render(request, "social/broadcast_detail.html", context)


@login_required
@require_POST
def broadcast_action(request, pk, action):
    broadcast = _broadcast(request, pk)
    try:
        if action == "send":
            form = ScheduleForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("Enter the date and time as YYYY-MM-DD HH:MM."))
            at = form.cleaned_data["send_at"]
            if at is not None and at <= timezone.now():
                raise ValidationError(_("Choose a time in the future, or send now."))
            broadcasts.broadcast_send(broadcast=broadcast, actor=request.user, at=at)
            messages.success(request, _("Scheduled.") if at else _("Sending started."))
        elif action == "pause":
            broadcasts.broadcast_pause(broadcast=broadcast, actor=request.user)
            messages.success(request, _("Paused. Nothing more is sent until you resume."))
        elif action == "resume":
            broadcasts.broadcast_resume(broadcast=broadcast, actor=request.user)
            messages.success(request, _("Resumed."))
        elif action == "cancel":
            broadcasts.broadcast_cancel(broadcast=broadcast, actor=request.user)
            messages.success(request, _("Cancelled. Messages already sent cannot be called back."))
        else:
            raise ValidationError(_("Unknown action."))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("broadcasts:detail", pk=broadcast.pk)
