"""Pages of customer import (upload, mapping, preview) and export, and of their background jobs."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from crm import roles
from crm.pagination import paginate

from . import exports, imports, selectors
from .forms import CustomerFilterForm
from .imports.rows import ATTRIBUTE, TARGETS
from .models import Customer, DataJob
from .permissions import can_view_contact_details


class UploadForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("CSV or XLSX file"),
        help_text=gettext_lazy(
            "The first row names the columns. UTF-8, Big5 and GB18030 files are all fine."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,.txt", "class": "form-control"}),
    )


def _require_import(request):
    if not imports.can_import(request.user):
        raise PermissionDenied(_("You may not import customers."))


def _job_for(request, pk, *, kind=None, owner_only=False) -> DataJob:
    """The job if the user started it (admins also see the others'); 404 otherwise."""
    job = DataJob.objects.select_related("created_by").filter(pk=pk).first()
    if job is None or (kind and job.kind != kind):
        raise Http404(_("No such import or export."))
    if job.created_by_id != request.user.pk and (owner_only or not roles.is_admin(request.user)):
        raise Http404(_("No such import or export."))
    return job


@login_required
@require_http_methods(["GET", "POST"])
def import_upload(request):
    _require_import(request)
    form = UploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            job = imports.import_upload(user=request.user, uploaded=form.cleaned_data["file"])
        except ValidationError as exc:
            form.add_error("file", exc)
        else:
            return redirect("customers:import-map", pk=job.pk)
    return render(request, "customers/import_upload.html", {"form": form, "targets": TARGETS})


def _draft(request, pk):
    _require_import(request)
    job = _job_for(request, pk, kind=DataJob.Kind.IMPORT, owner_only=True)
    if job.status != DataJob.Status.DRAFT:
        return job, redirect("customers:job", pk=job.pk)
    return job, None


@login_required
@require_http_methods(["GET", "POST"])
def import_map(request, pk):
    job, done = _draft(request, pk)
    if done:
        return done
    header = imports.import_header(job)
    mapping, on_match, error = job.mapping, job.on_match, ""
    if request.method == "POST":
        mapping = {}
        for index, title in enumerate(header):
            target = request.POST.get(f"column_{index}", "")
            if target == ATTRIBUTE:
                target = f"{ATTRIBUTE}:{request.POST.get(f'attribute_{index}', '').strip() or title}"
            mapping[str(index)] = target
        on_match = request.POST.get("on_match", "")
        try:
            imports.import_configure(job=job, user=request.user, mapping=mapping, on_match=on_match)
        except ValidationError as exc:
            error = " ".join(exc.messages)
        else:
            return redirect("customers:import-preview", pk=job.pk)
    samples = _sample_rows(job, len(header))
    columns = []
    for index, title in enumerate(header):
        target = mapping.get(str(index), "")
        base, _sep, attribute = target.partition(":")
        columns.append(
            {
                "index": index,
                "title": title,
                "target": base,
                "attribute": attribute,
                "samples": [row[index] if index < len(row) else "" for row in samples],
            }
        )
    context = {
        "job": job,
        "columns": columns,
        "targets": TARGETS,
        "on_match": on_match,
        "on_match_choices": DataJob.OnMatch.choices,
        "error": error,
    }
    return render(request, "customers/import_map.html", context, status=400 if error else 200)


def _sample_rows(job, width, count=3):
    from .imports.files import iter_rows

    rows = []
    for _number, values in iter_rows(job.file.path, job.fmt, job.encoding):
        rows.append(values)
        if len(rows) > count:
            break
    return rows[1:]


@login_required
@require_http_methods(["GET", "POST"])
def import_preview(request, pk):
    job, done = _draft(request, pk)
    if done:
        return done
    if request.method == "POST":
        choices = {
            key.removeprefix("match_"): value
            for key, value in request.POST.items()
            if key.startswith("match_")
        }
        job = imports.import_start(job=job, user=request.user, row_choices=choices)
        if job.is_active:
            messages.info(request, _("The import has started: this page shows how far it has got."))
        return redirect("customers:job", pk=job.pk)
    try:
        result = imports.preview(
            path=job.file.path, fmt=job.fmt, encoding=job.encoding, mapping=job.mapping, user=request.user
        )
    except imports.ImportFileError as exc:
        messages.error(request, str(exc))
        return redirect("customers:import")
    match_ids = {pk for row in result.rows for pk in row.match_ids}
    names = dict(Customer.objects.filter(pk__in=match_ids).values_list("pk", "name")) if match_ids else {}
    for row in result.rows:
        row.matches = [(pk, names.get(pk, f"#{pk}")) for pk in row.match_ids]
    labels = dict(TARGETS)
    mapped = []
    for index, target in sorted(job.mapping.items(), key=lambda item: int(item[0])):
        if target:
            base, _sep, attribute = target.partition(":")
            mapped.append(
                (result.header[int(index)], f"{labels[base]}: {attribute}" if attribute else labels[base])
            )
    context = {"job": job, "preview": result, "mapped": mapped, "on_match_choices": DataJob.OnMatch.choices}
    return render(request, "customers/import_preview.html", context)


@login_required
def job_detail(request, pk):
    job = _job_for(request, pk)
    if job.status == DataJob.Status.DRAFT and job.created_by_id == request.user.pk:
        return redirect("customers:import-map", pk=job.pk)
    template = "customers/job_detail.html"
    if request.htmx and request.htmx.target == "job-progress":
        template += "#job-progress"
    response = render(request, template, {"job": job, "is_owner": job.created_by_id == request.user.pk})
    response["Vary"] = "HX-Request"
    return response


@login_required
def job_file(request, pk, which):
    job = _job_for(request, pk, owner_only=True)
    if job.kind == DataJob.Kind.EXPORT and not exports.can_export(request.user):
        raise PermissionDenied(_("You may not export customers."))
    field = job.error_file if which == "errors" else job.result_file
    if not field or (which == "download" and job.status != DataJob.Status.DONE):
        raise Http404(_("There is no file to download."))
    try:
        handle = field.open("rb")
    except FileNotFoundError:
        raise Http404(_("The file is no longer there.")) from None
    stem = (job.file_name.rsplit(".", 1)[0] or "customers") if which == "errors" else "customers"
    name = f"{stem}-errors.csv" if which == "errors" else f"customers-{job.created_at:%Y%m%d-%H%M}.{job.fmt}"
    return FileResponse(handle, as_attachment=True, filename=name)


@login_required
@require_POST
def job_resume(request, pk):
    job = _job_for(request, pk, kind=DataJob.Kind.IMPORT, owner_only=True)
    imports.import_resume(job=job, user=request.user)
    return redirect("customers:job", pk=job.pk)


@login_required
def job_list(request):
    kind = request.GET.get("kind", "")
    jobs = DataJob.objects.select_related("created_by").order_by("-created_at", "-id")
    if not roles.is_admin(request.user):
        jobs = jobs.filter(created_by=request.user)
    if kind in DataJob.Kind.values:
        jobs = jobs.filter(kind=kind)
    page = paginate(jobs.defer("source_ids", "mapping", "row_choices"), request.GET.get("page"), per_page=50)
    context = {"page": page, "jobs": page.items, "kind": kind, "kinds": DataJob.Kind.choices}
    return render(request, "customers/job_list.html", context)


def describe_filters(form) -> tuple[str, dict]:
    """A sentence saying which customers a filtered list holds, and the raw filter values."""
    data = form.cleaned_data if form.is_valid() else {}
    parts, raw = [], {}
    if data.get("q"):
        parts.append(_("search “%(q)s”") % {"q": data["q"]})
        raw["q"] = data["q"]
    for name, label in (("owner", _("owner")), ("team", _("team")), ("tag", _("tag"))):
        if data.get(name):
            parts.append(f"{label}: {data[name]}")
            raw[name] = data[name].pk
    if data.get("lifecycle"):
        parts.append(f"{_('lifecycle')}: {dict(form.fields['lifecycle'].choices)[data['lifecycle']]}")
        raw["lifecycle"] = data["lifecycle"]
    description = "; ".join(parts) if parts else _("All customers I can see")
    return description, raw


@login_required
@require_http_methods(["GET", "POST"])
def export_start(request):
    """Confirm, then queue an export of the customer list as filtered on the list page."""
    if not exports.can_export(request.user):
        raise PermissionDenied(_("You may not export customers."))
    params = request.POST if request.method == "POST" else request.GET
    form = CustomerFilterForm(params)
    data = form.cleaned_data if form.is_valid() else {}
    queryset = selectors.customer_list(
        user=request.user,
        q=data.get("q", ""),
        owner=getattr(data.get("owner"), "pk", None),
        team=getattr(data.get("team"), "pk", None),
        tag=getattr(data.get("tag"), "pk", None),
        lifecycle=data.get("lifecycle", ""),
    )
    description, filters = describe_filters(form)
    if request.method == "POST":
        fmt = request.POST.get("fmt", "csv")
        try:
            job = exports.export_start(
                user=request.user, queryset=queryset, description=description, filters=filters, fmt=fmt
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            return redirect("customers:job", pk=job.pk)
    context = {
        "count": queryset.order_by().count(),
        "description": description,
        "params": [(k, v) for k, v in filters.items()],
        "unmasked": can_view_contact_details(request.user),
        "formats": DataJob.Format.choices,
    }
    return render(request, "customers/export_start.html", context)
