"""Channel administration (admins only): channels, their webhook URLs, connection tests, auto-reply rules."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from crm.manage_views import _attach_errors, admin_required

from . import selectors, services
from .forms import AutoReplyRuleForm, ChannelForm
from .models import AutoReplyRule, Channel


@admin_required
def channel_list(request):
    channels = selectors.channels_with_stats()
    return render(request, "social/channel_list.html", {"channels": channels})


@admin_required
@require_http_methods(["GET", "POST"])
def channel_create(request):
    kind = request.POST.get("kind") or request.GET.get("kind") or ""
    if kind not in Channel.Kind.values:
        return render(request, "social/channel_kind.html", {})
    form = ChannelForm(request.POST or None, kind=kind)
    if request.method == "POST" and form.is_valid():
        try:
            channel = services.channel_create(
                actor=request.user, kind=kind, credentials=form.credential_values(), **form.setting_values()
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(
                request, _("Channel created. Paste its webhook URL into the provider's console.")
            )
            return redirect("social:channel-detail", pk=channel.pk)
    return render(request, "social/channel_form.html", {"form": form, "kind": kind, "channel": None})


def _channel(pk) -> Channel:
    return get_object_or_404(Channel.objects.select_related("team"), pk=pk)


@admin_required
def channel_detail(request, pk):
    channel = _channel(pk)
    context = {
        "channel": channel,
        "webhook_url": request.build_absolute_uri(channel.webhook_path),
        "credential_status": channel.credential_status(),
        "event_counts": selectors.event_counts(channel=channel),
        "recent_failures": selectors.recent_failed_events(channel=channel),
        "rules": AutoReplyRule.objects.filter(channel=channel).prefetch_related("add_tags"),
        "conversation_count": channel.conversations.count(),
    }
    return render(request, "social/channel_detail.html", context)


@admin_required
@require_http_methods(["GET", "POST"])
def channel_edit(request, pk):
    channel = _channel(pk)
    initial = {
        "name": channel.name,
        "team": channel.team,
        "is_active": channel.is_active,
        "welcome_message": channel.welcome_message,
        "office_hours_start": channel.office_hours_start,
        "office_hours_end": channel.office_hours_end,
        "office_days": list(channel.office_days or ""),
    }
    form = ChannelForm(request.POST or None, kind=channel.kind, channel=channel, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.channel_update(
                actor=request.user,
                channel=channel,
                credentials=form.credential_values(),
                **form.setting_values(),
            )
        except ValidationError as exc:
            _attach_errors(form, exc)
        else:
            messages.success(request, _("Channel saved."))
            return redirect("social:channel-detail", pk=channel.pk)
    return render(
        request, "social/channel_form.html", {"form": form, "kind": channel.kind, "channel": channel}
    )


@admin_required
@require_POST
def channel_test(request, pk):
    channel = _channel(pk)
    ok, message = services.channel_test_connection(actor=request.user, channel=channel)
    if request.htmx:
        return render(request, "social/channel_detail.html#connection", {"channel": channel})
    (messages.success if ok else messages.error)(request, message)
    return redirect("social:channel-detail", pk=channel.pk)


@admin_required
@require_POST
def channel_rotate_key(request, pk):
    channel = _channel(pk)
    services.channel_rotate_webhook_key(actor=request.user, channel=channel)
    messages.warning(
        request, _("New webhook URL: update it in the provider's console now; the old one stopped working.")
    )
    return redirect("social:channel-detail", pk=channel.pk)


@admin_required
@require_POST
def channel_events_retry(request, pk):
    channel = _channel(pk)
    count = services.channel_events_retry(actor=request.user, channel=channel)
    messages.info(request, _("%(count)d failed events queued again.") % {"count": count})
    return redirect("social:channel-detail", pk=channel.pk)


def _rule_form_page(request, form, channel, rule):
    return render(request, "social/rule_form.html", {"form": form, "channel": channel, "rule": rule})


@admin_required
@require_http_methods(["GET", "POST"])
def rule_create(request, pk):
    channel = _channel(pk)
    form = AutoReplyRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        return _rule_save(request, form, channel, None)
    return _rule_form_page(request, form, channel, None)


def _rule_save(request, form, channel, rule):
    values = {field: form.cleaned_data[field] for field in services.RULE_FIELDS}
    values["pattern"] = values["pattern"] or ""
    try:
        services.auto_reply_rule_save(
            actor=request.user, channel=channel, rule=rule, tags=form.tags(), **values
        )
    except ValidationError as exc:
        _attach_errors(form, exc)
        return _rule_form_page(request, form, channel, rule)
    messages.success(request, _("Rule saved."))
    return redirect("social:channel-detail", pk=channel.pk)


@admin_required
@require_http_methods(["GET", "POST"])
def rule_edit(request, pk):
    rule = get_object_or_404(AutoReplyRule.objects.select_related("channel"), pk=pk)
    form = AutoReplyRuleForm(request.POST or None, instance=AutoReplyRule.objects.get(pk=rule.pk))
    if request.method == "POST" and form.is_valid():
        return _rule_save(request, form, rule.channel, rule)
    return _rule_form_page(request, form, rule.channel, rule)


@admin_required
@require_POST
def rule_delete(request, pk):
    rule = get_object_or_404(AutoReplyRule, pk=pk)
    channel_pk = rule.channel_id
    services.auto_reply_rule_delete(actor=request.user, rule=rule)
    messages.success(request, _("Rule deleted."))
    return redirect("social:channel-detail", pk=channel_pk)
