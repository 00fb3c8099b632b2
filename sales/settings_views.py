"""Sales settings inside the app, for admins: pipelines and their stages, lost reasons, products, cadences."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, ProtectedError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from . import services
from .forms import CadenceForm, LostReasonForm, PipelineForm, ProductForm, StageFormSet
from .models import Cadence, LostReason, Pipeline, Product


def settings_required(view):
    """Anonymous visitors go to the login page; users without the settings permission get 403."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not services.can_manage_settings(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@settings_required
def index(request):
    return render(
        request,
        "sales/settings/index.html",
        {
            "pipelines": Pipeline.objects.annotate(deal_count=Count("deals")).prefetch_related("stages"),
            "lost_reasons": LostReason.objects.all(),
            "products": Product.objects.all()[:200],
            "cadences": Cadence.objects.all(),
        },
    )


@settings_required
@require_http_methods(["GET", "POST"])
def pipeline_edit(request, pk=None):
    pipeline = get_object_or_404(Pipeline, pk=pk) if pk else Pipeline()
    form = PipelineForm(request.POST or None, instance=pipeline)
    stages = StageFormSet(request.POST or None, instance=pipeline, prefix="stages")
    if request.method == "POST" and form.is_valid() and stages.is_valid():
        try:
            with transaction.atomic():
                pipeline = form.save()
                stages.instance = pipeline
                stages.save()
        except ProtectedError:
            form.add_error(None, _("A stage that still has deals cannot be deleted."))
        else:
            messages.success(request, _("Pipeline “%(name)s” saved.") % {"name": pipeline.name})
            return redirect("sales:settings")
    return render(
        request,
        "sales/settings/pipeline_form.html",
        {"form": form, "stages": stages, "pipeline": pipeline if pk else None},
    )


@settings_required
@require_POST
def pipeline_delete(request, pk):
    pipeline = get_object_or_404(Pipeline, pk=pk)
    if pipeline.deals.exists():
        messages.error(request, _("This pipeline still has deals; deactivate it instead."))
        return redirect("sales:settings")
    pipeline.delete()
    messages.success(request, _("Pipeline deleted."))
    return redirect("sales:settings")


SIMPLE = {
    "lost-reason": (LostReason, LostReasonForm, gettext_lazy("lost reason")),
    "product": (Product, ProductForm, gettext_lazy("product")),
    "cadence": (Cadence, CadenceForm, gettext_lazy("cadence")),
}


def _simple(kind):
    if kind not in SIMPLE:
        raise Http404
    return SIMPLE[kind]


@settings_required
@require_http_methods(["GET", "POST"])
def simple_edit(request, kind, pk=None):
    model, form_class, label = _simple(kind)
    instance = get_object_or_404(model, pk=pk) if pk else model()
    form = form_class(request.POST or None, instance=instance)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Saved."))
        return redirect("sales:settings")
    return render(
        request,
        "sales/settings/simple_form.html",
        {"form": form, "label": label, "instance": instance if pk else None, "kind": kind},
    )
