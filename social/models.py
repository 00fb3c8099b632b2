import secrets
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .crypto import credentials_decrypt, credentials_encrypt


def new_webhook_key() -> str:
    return secrets.token_urlsafe(18)


class Channel(models.Model):
    """One LINE official account, WeChat official account or WeCom corp the CRM listens to."""

    class Kind(models.TextChoices):
        LINE = "line", "LINE"
        WECHAT = "wechat", _("WeChat")
        WECOM = "wecom", _("WeCom")

    # The credential names each kind uses; others are ignored.
    CREDENTIAL_FIELDS = {
        "line": ("channel_secret", "access_token"),
        "wechat": ("app_id", "app_secret", "token", "aes_key", "mode"),
        "wecom": ("corp_id", "secret", "token", "aes_key"),
    }
    SECRET_FIELDS = {"channel_secret", "access_token", "app_secret", "token", "aes_key", "secret"}

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=100)
    webhook_key = models.CharField(_("webhook key"), max_length=64, unique=True, default=new_webhook_key)
    is_active = models.BooleanField(_("active"), default=True)
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="social_channels",
        help_text=_("New conversations on this channel go to this team."),
    )
    credentials_encrypted = models.TextField(blank=True, editable=False)
    welcome_message = models.TextField(
        _("welcome message"), blank=True, help_text=_("Sent when someone follows the account.")
    )
    office_hours_start = models.TimeField(_("office hours start"), null=True, blank=True)
    office_hours_end = models.TimeField(_("office hours end"), null=True, blank=True)
    office_days = models.CharField(
        _("office days"),
        max_length=7,
        default="01234",
        blank=True,
        help_text=_("Weekdays with office hours: 0 is Monday, 6 is Sunday."),
    )
    bot_user_id = models.CharField(_("bot user id"), max_length=100, blank=True)
    last_check_at = models.DateTimeField(_("last connection test"), null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    last_check_message = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["kind", "name"]
        verbose_name = _("channel")
        verbose_name_plural = _("channels")

    def __str__(self):
        return f"{self.get_kind_display()}: {self.name}"

    @property
    def credentials(self) -> dict:
        """The decrypted credentials: pass them to a provider client, never to a template or a log."""
        if not hasattr(self, "_credentials"):
            self._credentials = credentials_decrypt(self.credentials_encrypted)
        return dict(self._credentials)

    def set_credentials(self, values: dict) -> None:
        """Replace the stored credentials; keys with None or "" are dropped. The caller saves the channel."""
        allowed = self.CREDENTIAL_FIELDS.get(self.kind, ())
        clean = {
            key: str(value) for key, value in values.items() if key in allowed and value not in (None, "")
        }
        self.credentials_encrypted = credentials_encrypt(clean) if clean else ""
        self._credentials = clean

    def credential_status(self) -> list[tuple[str, bool]]:
        """(name, is set) for each credential of this kind: what the admin pages show instead of values."""
        values = self.credentials
        return [(name, bool(values.get(name))) for name in self.CREDENTIAL_FIELDS.get(self.kind, ())]

    @property
    def webhook_path(self) -> str:
        from django.urls import reverse

        name = {"line": "webhook-line", "wechat": "webhook-wechat", "wecom": "webhook-wecom"}[self.kind]
        return reverse(name, kwargs={"key": self.webhook_key})

    def in_office_hours(self, at=None) -> bool:
        """Whether `at` (default now) falls in office hours, in the CRM's time zone; no hours set means always."""
        if self.office_hours_start is None or self.office_hours_end is None:
            return True
        local = timezone.localtime(at or timezone.now())
        if str(local.weekday()) not in (self.office_days or ""):
            return False
        start, end, now = self.office_hours_start, self.office_hours_end, local.time()
        if start <= end:
            return start <= now < end
        return now >= start or now < end


class InboundEvent(models.Model):
    """One webhook event exactly as the provider sent it; (channel, event_key) is unique so redeliveries no-op."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        PROCESSED = "processed", _("Processed")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("Skipped")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="inbound_events")
    event_key = models.CharField(max_length=200)
    payload = models.JSONField()
    received_at = models.DateTimeField(default=timezone.now)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["received_at", "id"]
        verbose_name = _("inbound event")
        verbose_name_plural = _("inbound events")
        constraints = [
            models.UniqueConstraint(fields=["channel", "event_key"], name="inboundevent_unique_per_channel")
        ]
        indexes = [
            models.Index(
                fields=["received_at"],
                condition=models.Q(status="pending"),
                name="inboundevent_pending_idx",
            )
        ]

    def __str__(self):
        return f"{self.channel_id}:{self.event_key} ({self.status})"


class Conversation(models.Model):
    """The thread between one social identity and one channel."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="conversations")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="conversations")
    identity = models.ForeignKey(
        "customers.SocialIdentity", on_delete=models.CASCADE, related_name="conversations"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="social_conversations",
    )
    team = models.ForeignKey(
        "crm.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    reply_token = models.CharField(max_length=200, blank=True)
    reply_token_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        constraints = [
            models.UniqueConstraint(fields=["channel", "identity"], name="conversation_unique_identity")
        ]
        indexes = [
            models.Index(fields=["status", "-last_message_at"], name="conversation_inbox_idx"),
            models.Index(fields=["assignee", "status", "-last_message_at"], name="conversation_assignee_idx"),
            models.Index(fields=["customer", "-last_message_at"], name="conversation_customer_idx"),
        ]

    def __str__(self):
        return f"{self.channel} / {self.identity}"


class Message(models.Model):
    class Direction(models.TextChoices):
        IN = "in", _("Received")
        OUT = "out", _("Sent")

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        VIDEO = "video", _("Video")
        AUDIO = "audio", _("Audio")
        FILE = "file", _("File")
        LOCATION = "location", _("Location")
        STICKER = "sticker", _("Sticker")
        LINK = "link", _("Link")
        POSTBACK = "postback", _("Postback")
        EVENT = "event", _("Event")
        NOTE = "note", _("Internal note")

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    MEDIA_KINDS = {"image", "video", "audio", "file"}

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    media = models.FileField(upload_to="social/%Y/%m/", max_length=300, blank=True)
    provider_message_id = models.CharField(max_length=100, blank=True)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    is_internal_note = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RECEIVED)
    error = models.TextField(blank=True)
    retry_key = models.UUIDField(default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["conversation", "created_at"], name="message_conversation_idx"),
            models.Index(
                fields=["provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="message_provider_id_idx",
            ),
        ]

    def __str__(self):
        return f"{self.direction} {self.kind}: {self.text[:40]}"


class SocialGroup(models.Model):
    """A LINE group or multi-person chat (room) the account was invited to, with its member events."""

    class Kind(models.TextChoices):
        GROUP = "group", _("Group")
        ROOM = "room", _("Multi-person chat")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="groups")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    external_id = models.CharField(max_length=100)
    name = models.CharField(max_length=200, blank=True)
    is_member = models.BooleanField(default=True)
    member_ids = models.JSONField(default=list, blank=True)
    joined_at = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(null=True, blank=True)
    history = models.JSONField(default=list, blank=True, help_text="join/leave/member events, newest last")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="socialgroup_unique_per_channel")
        ]

    def __str__(self):
        return self.name or self.external_id


class AutoReplyRule(models.Model):
    """A keyword, follow or postback rule of one channel: answers and/or tags the customer."""

    class Trigger(models.TextChoices):
        KEYWORD = "keyword", _("Message keyword")
        FOLLOW = "follow", _("Follow (welcome)")
        POSTBACK = "postback", _("Postback data")

    class Match(models.TextChoices):
        EXACT = "exact", _("Is exactly")
        CONTAINS = "contains", _("Contains")
        REGEX = "regex", _("Matches pattern")

    class When(models.TextChoices):
        ALWAYS = "always", _("Always")
        OFFICE_HOURS = "office_hours", _("During office hours")
        OUTSIDE_OFFICE_HOURS = "outside_office_hours", _("Outside office hours")

    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="auto_reply_rules")
    name = models.CharField(_("name"), max_length=100)
    is_active = models.BooleanField(_("active"), default=True)
    trigger = models.CharField(_("trigger"), max_length=10, choices=Trigger.choices, default=Trigger.KEYWORD)
    match = models.CharField(_("match"), max_length=10, choices=Match.choices, default=Match.CONTAINS)
    pattern = models.CharField(_("keyword or pattern"), max_length=300, blank=True)
    when = models.CharField(_("when"), max_length=24, choices=When.choices, default=When.ALWAYS)
    reply_text = models.TextField(_("reply"), blank=True)
    add_tags = models.ManyToManyField(
        "customers.Tag", verbose_name=_("add tags"), blank=True, related_name="auto_reply_rules"
    )
    priority = models.PositiveSmallIntegerField(
        _("priority"), default=100, help_text=_("Lower numbers are tried first; the first reply wins.")
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["channel", "priority", "id"]
        verbose_name = _("auto-reply rule")
        verbose_name_plural = _("auto-reply rules")

    def __str__(self):
        return self.name


# Broadcasts (h-inbox) ---------------------------------------------------------------------------------


class Broadcast(models.Model):
    """One message sent to an audience of a channel's followers, possibly in A/B variants."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SCHEDULED = "scheduled", _("Scheduled")
        SENDING = "sending", _("Sending")
        PAUSED = "paused", _("Paused")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Sent")
        FAILED = "failed", _("Failed")

    class TagMatch(models.TextChoices):
        ANY = "any", _("Any of the tags")
        ALL = "all", _("All of the tags")

    name = models.CharField(_("name"), max_length=200)
    channel = models.ForeignKey(
        Channel, verbose_name=_("channel"), on_delete=models.PROTECT, related_name="broadcasts"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    # The audience: customers with these tags (any or all of them), optionally in one lifecycle stage.
    # broadcast_audience() is the one place that turns this into customers.
    tags = models.ManyToManyField("customers.Tag", verbose_name=_("tags"), blank=True, related_name="+")
    tag_match = models.CharField(_("tag match"), max_length=3, choices=TagMatch.choices, default=TagMatch.ANY)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=20, blank=True)
    # Or the customers of a segment (then narrowed by the tags and stage above, if any).
    segment = models.ForeignKey(
        "customers.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    total = models.PositiveIntegerField(_("recipients"), default=0)
    sent_count = models.PositiveIntegerField(_("sent"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("broadcast")
        verbose_name_plural = _("broadcasts")
        permissions = [("send_broadcast", _("Can compose and send broadcasts"))]
        indexes = [models.Index(fields=["status", "scheduled_at"], name="broadcast_due_idx")]

    def __str__(self):
        return self.name

    @property
    def done_count(self) -> int:
        return self.sent_count + self.failed_count

    @property
    def percent(self) -> int:
        return int(100 * self.done_count / self.total) if self.total else 0


class BroadcastVariant(models.Model):
    """One version of the message; variants split the audience by percentage (A/B tests)."""

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        IMAGE = "image", _("Image")
        FLEX = "flex", _("LINE Flex message")

    broadcast = models.ForeignKey(Broadcast, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(_("label"), max_length=20, default="A")
    percent = models.PositiveSmallIntegerField(_("share of recipients (%)"), default=100)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.TEXT)
    text = models.TextField(_("text"), blank=True)
    image = models.FileField(_("image"), upload_to="social/broadcasts/%Y/%m/", max_length=300, blank=True)
    flex = models.JSONField(_("Flex JSON"), null=True, blank=True)
    alt_text = models.CharField(_("notification text"), max_length=400, blank=True)
    sent_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["broadcast", "label"]
        verbose_name = _("broadcast variant")
        verbose_name_plural = _("broadcast variants")

    def __str__(self):
        return f"{self.broadcast_id}/{self.label}"


class BroadcastDelivery(models.Model):
    """One recipient of a broadcast and what happened to their message."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    # Led by the composite indexes below; each index is one more write per recipient per batch.
    broadcast = models.ForeignKey(
        Broadcast, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    variant = models.ForeignKey(
        BroadcastVariant, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    identity = models.ForeignKey(
        "customers.SocialIdentity", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.CharField(max_length=500, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("broadcast delivery")
        verbose_name_plural = _("broadcast deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["broadcast", "identity"], name="broadcastdelivery_unique_identity"
            )
        ]
        indexes = [
            # Only what is left to send: a sent delivery leaves this index instead of moving in it.
            models.Index(
                fields=["broadcast", "variant", "id"],
                condition=models.Q(status="pending"),
                name="broadcastdelivery_pending_idx",
            ),
            models.Index(fields=["customer"], name="broadcastdelivery_customer_idx"),
        ]

    def __str__(self):
        return f"{self.broadcast_id} → {self.identity_id}: {self.status}"
