"""Writes of the social app: channels, their credentials and auto-reply rules; reprocessing events.

Inbound processing lives in processing.py, provider follow-ups (profiles, media, sending) in outbound.py.
"""

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from crm import roles

from . import autoreply
from .models import AutoReplyRule, Channel, InboundEvent, new_webhook_key
from .providers.http import ProviderError


def _require_admin(actor) -> None:
    if actor is not None and not roles.is_admin(actor):
        raise PermissionDenied(_("Only admins manage social channels."))


def _forget_cache() -> None:
    from .webhooks import forget_channel_cache

    transaction.on_commit(forget_channel_cache)


def _validate_credentials(kind: str, values: dict) -> None:
    errors = {}
    if kind == Channel.Kind.WECOM and values.get("aes_key") and len(values["aes_key"]) != 43:
        errors["aes_key"] = _("The EncodingAESKey has 43 characters.")
    if kind == Channel.Kind.WECHAT:
        aes_key = values.get("aes_key") or ""
        if aes_key and len(aes_key) != 43:
            errors["aes_key"] = _("The EncodingAESKey has 43 characters.")
        if values.get("mode") not in (None, "", "plain", "safe"):
            errors["mode"] = _("Choose plain or safe mode.")
        if values.get("mode") == "safe" and not (aes_key and values.get("app_id")):
            errors["aes_key"] = _("Safe mode needs the app id and the EncodingAESKey.")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def channel_create(
    *,
    actor,
    kind: str,
    name: str,
    credentials: dict | None = None,
    team=None,
    welcome_message: str = "",
    office_hours_start=None,
    office_hours_end=None,
    office_days: str = "01234",
    is_active: bool = True,
) -> Channel:
    _require_admin(actor)
    name = (name or "").strip()
    if kind not in Channel.Kind.values:
        raise ValidationError({"kind": _("Choose LINE, WeChat or WeCom.")})
    if not name:
        raise ValidationError({"name": _("Enter the channel's name.")})
    values = {k: v for k, v in (credentials or {}).items() if v not in (None, "")}
    _validate_credentials(kind, values)
    channel = Channel(
        kind=kind,
        name=name[:100],
        team=team,
        welcome_message=welcome_message,
        office_hours_start=office_hours_start,
        office_hours_end=office_hours_end,
        office_days=office_days,
        is_active=is_active,
    )
    channel.set_credentials(values)
    channel.save()
    _forget_cache()
    return channel


@transaction.atomic
def channel_update(*, actor, channel: Channel, credentials: dict | None = None, **changes) -> Channel:
    """Change settings; credentials given as "" or None keep their stored value (the form is write-only)."""
    _require_admin(actor)
    allowed = {
        "name",
        "team",
        "is_active",
        "welcome_message",
        "office_hours_start",
        "office_hours_end",
        "office_days",
    }
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"Unknown channel fields: {sorted(unknown)}")
    if "name" in changes:
        changes["name"] = (changes["name"] or "").strip()[:100]
        if not changes["name"]:
            raise ValidationError({"name": _("Enter the channel's name.")})
    channel = Channel.objects.select_for_update().get(pk=channel.pk)
    for field, value in changes.items():
        setattr(channel, field, value)
    if credentials:
        merged = channel.credentials
        merged.update({k: v for k, v in credentials.items() if v not in (None, "")})
        _validate_credentials(channel.kind, merged)
        channel.set_credentials(merged)
    channel.save()
    _forget_cache()
    return channel


@transaction.atomic
def channel_rotate_webhook_key(*, actor, channel: Channel) -> Channel:
    """A new webhook URL (the old one stops working): after a leak, or to move the provider to another server."""
    _require_admin(actor)
    channel.webhook_key = new_webhook_key()
    channel.save(update_fields=["webhook_key"])
    _forget_cache()
    return channel


def channel_test_connection(*, actor, channel: Channel) -> tuple[bool, str]:
    """Call the provider with the stored credentials and remember the outcome on the channel."""
    _require_admin(actor)
    from .outbound import client_for

    try:
        client = client_for(channel)
        if channel.kind == Channel.Kind.LINE:
            info = client.bot_info()
            ok, message = (
                True,
                _("Connected to %(name)s (%(id)s).")
                % {
                    "name": info.get("displayName", ""),
                    "id": info.get("basicId", ""),
                },
            )
            channel.bot_user_id = str(info.get("userId") or "")[:100]
        else:
            client.check()
            ok, message = True, _("Connected: WeChat issued an access token.")
    except ProviderError as exc:
        ok, message = False, _("The provider refused: %(error)s") % {"error": exc}
    channel.last_check_at, channel.last_check_ok, channel.last_check_message = (
        timezone.now(),
        ok,
        message[:300],
    )
    channel.save(update_fields=["last_check_at", "last_check_ok", "last_check_message", "bot_user_id"])
    return ok, message


def channel_events_retry(*, actor, channel: Channel) -> int:
    """Put the channel's failed events back to pending and enqueue them."""
    _require_admin(actor)
    from .webhooks import enqueue_processing

    with transaction.atomic():
        ids = list(
            InboundEvent.objects.filter(channel=channel, status=InboundEvent.Status.FAILED).values_list(
                "pk", flat=True
            )
        )
        InboundEvent.objects.filter(pk__in=ids).update(status=InboundEvent.Status.PENDING, error="")
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            transaction.on_commit(lambda chunk=chunk: enqueue_processing(chunk))
    return len(ids)


RULE_FIELDS = ("name", "is_active", "trigger", "match", "pattern", "when", "reply_text", "priority")


def _rule_validate(values: dict) -> None:
    errors = {}
    if not (values.get("name") or "").strip():
        errors["name"] = _("Give the rule a name.")
    if values.get("trigger") != AutoReplyRule.Trigger.FOLLOW and not (values.get("pattern") or "").strip():
        errors["pattern"] = _("Enter the keyword, text or pattern to look for.")
    if errors:
        raise ValidationError(errors)
    autoreply.pattern_validate(values.get("match", ""), values.get("pattern", ""))


@transaction.atomic
def auto_reply_rule_save(*, actor, channel: Channel, rule: AutoReplyRule | None = None, tags=(), **values):
    """Create (rule=None) or change a rule of this channel."""
    _require_admin(actor)
    unknown = set(values) - set(RULE_FIELDS)
    if unknown:
        raise ValueError(f"Unknown rule fields: {sorted(unknown)}")
    current = {f: getattr(rule, f) for f in RULE_FIELDS} if rule else {}
    current.update(values)
    _rule_validate(current)
    rule = rule or AutoReplyRule(channel=channel)
    for field, value in values.items():
        setattr(rule, field, value)
    rule.save()
    rule.add_tags.set(list(tags))
    return rule


@transaction.atomic
def auto_reply_rule_delete(*, actor, rule: AutoReplyRule) -> None:
    _require_admin(actor)
    rule.delete()
