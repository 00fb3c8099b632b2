from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CtiEvent(models.Model):
    """A call event exactly as the PBX sent it. (call_id, event) is unique, so a retried event is a no-op."""

    class Source(models.TextChoices):
        HTTP = "http", _("HTTP API")
        AMI = "ami", "Asterisk AMI"

    call_id = models.CharField(max_length=128)
    event = models.CharField(max_length=20)
    payload = models.JSONField()
    occurred_at = models.DateTimeField()
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.HTTP)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("CTI event")
        verbose_name_plural = _("CTI events")
        constraints = [models.UniqueConstraint(fields=["call_id", "event"], name="ctievent_unique_per_call")]

    def __str__(self):
        return f"{self.call_id} {self.event}"


class Disposition(models.Model):
    """How a call ended for the business: configurable by admins."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("disposition")
        verbose_name_plural = _("dispositions")

    def __str__(self):
        return self.name


class Call(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", _("Inbound")
        OUTBOUND = "outbound", _("Outbound")

    class State(models.TextChoices):
        RINGING = "ringing", _("Ringing")
        ANSWERED = "answered", _("In progress")
        ENDED = "ended", _("Ended")
        MISSED = "missed", _("Missed")

    call_id = models.CharField(_("call id"), max_length=128, unique=True)
    direction = models.CharField(_("direction"), max_length=10, choices=Direction.choices)
    from_raw = models.CharField(_("from (as sent)"), max_length=64, blank=True)
    to_raw = models.CharField(_("to (as sent)"), max_length=64, blank=True)
    from_number = models.CharField(_("from"), max_length=64, blank=True, db_index=True)
    to_number = models.CharField(_("to"), max_length=64, blank=True)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
    )
    candidates = models.JSONField(_("possible customers"), default=list, blank=True)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="calls",
    )
    extension = models.CharField(_("extension"), max_length=100, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.RINGING)
    ringing_at = models.DateTimeField(_("ringing at"), null=True, blank=True)
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    talk_seconds = models.PositiveIntegerField(_("talk time (s)"), null=True, blank=True)
    wait_seconds = models.PositiveIntegerField(_("wait time (s)"), null=True, blank=True)
    recording_url = models.URLField(_("recording"), max_length=1000, blank=True)
    disposition = models.ForeignKey(
        Disposition, verbose_name=_("disposition"), null=True, blank=True, on_delete=models.SET_NULL
    )
    notes = models.TextField(_("notes"), blank=True)
    wrapped_up_at = models.DateTimeField(null=True, blank=True)
    timeline_entry = models.ForeignKey(
        "customers.Interaction", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-ringing_at", "-id"]
        verbose_name = _("call")
        verbose_name_plural = _("calls")
        indexes = [
            models.Index(fields=["customer", "-ringing_at"], name="call_customer_idx"),
            models.Index(fields=["agent", "state"], name="call_agent_state_idx"),
        ]

    def __str__(self):
        return self.call_id

    @property
    def caller_number(self):
        """The customer's side of the call."""
        return self.from_number if self.direction == self.Direction.INBOUND else self.to_number

    @property
    def is_live(self):
        return self.state in (self.State.RINGING, self.State.ANSWERED)


class AgentStatus(models.Model):
    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        BUSY = "busy", _("Busy")
        AWAY = "away", _("Away")
        OFFLINE = "offline", _("Offline")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_status"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OFFLINE)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("agent status")
        verbose_name_plural = _("agent statuses")

    def __str__(self):
        return f"{self.user}: {self.status}"


class CallList(models.Model):
    """Customers a manager wants called, built from a customer search and worked through by agents."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        CLOSED = "closed", _("Closed")

    name = models.CharField(_("name"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="call_lists",
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    filters = models.JSONField(_("search used"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("call list")
        verbose_name_plural = _("call lists")
        indexes = [models.Index(fields=["team", "status", "-created_at"], name="calllist_team_status_idx")]

    def __str__(self):
        return self.name

    @property
    def is_open(self):
        return self.status == self.Status.OPEN


class CallListEntry(models.Model):
    """One customer to call on a list: who calls them, and how it went."""

    class State(models.TextChoices):
        PENDING = "pending", _("To call")
        IN_PROGRESS = "in_progress", _("Calling")
        DONE = "done", _("Done")
        SKIPPED = "skipped", _("Skipped")

    call_list = models.ForeignKey(
        CallList, verbose_name=_("call list"), on_delete=models.CASCADE, related_name="entries"
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="call_list_entries",
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="call_list_entries",
    )
    position = models.PositiveIntegerField(_("position"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.PENDING)
    disposition = models.ForeignKey(
        Disposition, verbose_name=_("disposition"), null=True, blank=True, on_delete=models.SET_NULL
    )
    note = models.TextField(_("note"), blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("done by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("call list entry")
        verbose_name_plural = _("call list entries")
        constraints = [
            models.UniqueConstraint(fields=["call_list", "customer"], name="calllistentry_unique_customer")
        ]
        indexes = [
            models.Index(
                fields=["call_list", "assigned_to", "state", "position"], name="calllistentry_work_idx"
            )
        ]

    def __str__(self):
        return f"{self.call_list_id} #{self.position}"

    @property
    def is_finished(self):
        return self.state in (self.State.DONE, self.State.SKIPPED)
