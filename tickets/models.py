"""Service tickets: the ticket and its thread, categories, SLA policies, business calendars,
escalation and assignment rules. Every write goes through tickets.services."""

import uuid
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Category(models.Model):
    """A node of the category tree ("Billing › Refund"). Retired categories are switched off, not deleted."""

    name = models.CharField(_("name"), max_length=100)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["order", "name", "id"]
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="ticketcategory_unique_in_parent"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent__isnull=True), name="ticketcategory_unique_root"
            ),
        ]

    def __str__(self):
        return self.name


class TicketTag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("ticket tag")
        verbose_name_plural = _("ticket tags")

    def __str__(self):
        return self.name


class BusinessCalendar(models.Model):
    """Working hours per weekday plus holidays; SLA clocks only run inside them.

    `hours` maps the ISO weekday ("1" Monday … "7" Sunday) to a list of ["09:00", "18:00"] intervals;
    a day missing from it is a day off.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="Asia/Taipei")
    hours = models.JSONField(_("working hours"), default=dict)
    is_default = models.BooleanField(
        _("default calendar"), default=False, help_text=_("Used by SLA policies that name no calendar.")
    )

    class Meta:
        ordering = ["name"]
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="businesscalendar_one_default"
            )
        ]

    def __str__(self):
        return self.name


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, verbose_name=_("calendar"), on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100)

    class Meta:
        ordering = ["date"]
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        constraints = [models.UniqueConstraint(fields=["calendar", "date"], name="holiday_unique_per_day")]

    def __str__(self):
        return f"{self.date} {self.name}"


class Priority(models.TextChoices):
    LOW = "low", _("Low")
    NORMAL = "normal", _("Normal")
    HIGH = "high", _("High")
    URGENT = "urgent", _("Urgent")


PRIORITY_ORDER = [Priority.LOW, Priority.NORMAL, Priority.HIGH, Priority.URGENT]


class SlaPolicy(models.Model):
    """Targets for tickets of a priority and/or category, in business time of a calendar.

    The most specific active policy wins: category (nearest in the tree) before priority before neither.
    """

    name = models.CharField(_("name"), max_length=100)
    priority = models.CharField(
        _("priority"),
        max_length=10,
        choices=Priority.choices,
        blank=True,
        help_text=_("Empty: any priority."),
    )
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="sla_policies",
        help_text=_("Empty: any category. A category's policy also covers its sub-categories."),
    )
    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("calendar"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="policies",
        help_text=_("Empty: the default calendar."),
    )
    first_response_minutes = models.PositiveIntegerField(_("first response within (business minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (business minutes)"))
    warning_minutes = models.PositiveIntegerField(
        _("warn before (business minutes)"),
        default=30,
        help_text=_("How long before a deadline the ticket counts as breaching soon."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")

    def __str__(self):
        return self.name


class Ticket(models.Model):
    class Status(models.TextChoices):
        NEW = "new", _("New")
        OPEN = "open", _("Open")
        PENDING = "pending", _("Pending customer")
        ON_HOLD = "on_hold", _("On hold")
        SOLVED = "solved", _("Solved")
        CLOSED = "closed", _("Closed")

    Priority = Priority

    class Source(models.TextChoices):
        PHONE = "phone", _("Phone")
        LINE = "line", "LINE"
        WECHAT = "wechat", _("WeChat")
        EMAIL = "email", _("E-mail")
        WEB = "web", _("Web")
        MANUAL = "manual", _("Manual")

    class SlaState(models.TextChoices):
        NONE = "none", _("No SLA")
        OK = "ok", _("On track")
        WARNING = "warning", _("Breaching soon")
        BREACHED = "breached", _("Breached")
        PAUSED = "paused", _("Paused")
        MET = "met", _("Met")

    class AssignedVia(models.TextChoices):
        MANUAL = "manual", _("Assigned by hand")
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_BUSY = "least_busy", _("Least busy")
        ESCALATION = "escalation", _("Escalation rule")

    UNRESOLVED = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)

    # Foreign keys leading a composite index below, or whose rows are switched off rather than deleted,
    # get no index of their own: each index is one more write per ticket in every SLA sweep.
    number = models.PositiveBigIntegerField(_("number"), unique=True, null=True, editable=False)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="tickets",
        db_index=False,
    )
    subject = models.CharField(_("subject"), max_length=200)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(  # categories are switched off, not deleted
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        db_index=False,
    )
    priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.NEW)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        db_index=False,
    )
    assigned_via = models.CharField(_("assigned by"), max_length=20, choices=AssignedVia.choices, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=10, choices=Source.choices, default=Source.MANUAL)
    # The call or conversation the ticket came from.
    origin_type = models.ForeignKey(
        ContentType,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    origin_id = models.BigIntegerField(null=True, blank=True)
    origin = GenericForeignKey("origin_type", "origin_id")
    tags = models.ManyToManyField(TicketTag, verbose_name=_("tags"), blank=True, related_name="tickets")
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    followers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("followers"), blank=True, related_name="followed_tickets"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("updated"))
    first_responded_at = models.DateTimeField(_("first response"), null=True, blank=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_tickets",
        db_index=False,
    )
    # Raised by every write; a form sends the version it showed, so a stale form cannot overwrite.
    version = models.PositiveIntegerField(default=1)

    sla_policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("SLA policy"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_response_warn_at = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    resolution_warn_at = models.DateTimeField(null=True, blank=True)
    sla_paused_at = models.DateTimeField(_("SLA paused since"), null=True, blank=True)
    # Business seconds spent pending on the customer: deadlines move out by this much.
    sla_paused_seconds = models.PositiveIntegerField(default=0)
    sla_state = models.CharField(_("SLA"), max_length=10, choices=SlaState.choices, default=SlaState.NONE)
    # The nearest deadline not yet met (what the countdown shows) and when the sweep must look again.
    sla_due = models.DateTimeField(_("next deadline"), null=True, blank=True)
    sla_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        permissions = [
            ("assign_ticket", _("Can assign tickets to others")),
            ("merge_ticket", _("Can merge tickets")),
            ("configure_tickets", _("Can configure categories, SLA, calendars, escalation and assignment")),
        ]
        indexes = [
            models.Index(fields=["-created_at", "-id"], name="ticket_created_idx"),
            # My tickets and a team queue, most urgent first: resolved tickets have no deadline and sort
            # last, so walking these in deadline order meets the open ones first.
            models.Index(fields=["assignee", "sla_due", "id"], name="ticket_assignee_due_idx"),
            models.Index(fields=["team", "sla_due", "id"], name="ticket_team_due_idx"),
            models.Index(fields=["sla_state", "sla_due"], name="ticket_sla_idx"),
            models.Index(fields=["customer", "status"], name="ticket_customer_idx"),
            models.Index(
                fields=["origin_type", "origin_id"],
                condition=Q(origin_id__isnull=False),
                name="ticket_origin_idx",
            ),
            models.Index(
                fields=["merged_into"], condition=Q(merged_into__isnull=False), name="ticket_merged_into_idx"
            ),
            models.Index(
                fields=["sla_check_at"], condition=Q(sla_check_at__isnull=False), name="ticket_sla_check_idx"
            ),
        ]

    def __str__(self):
        return f"#{self.number or self.pk} {self.subject}"

    @property
    def is_unresolved(self):
        return self.status in self.UNRESOLVED


class StatusTransition(models.Model):
    """A status change agents may make. Admins edit the set; the defaults are seeded by a migration."""

    from_status = models.CharField(_("from"), max_length=10, choices=Ticket.Status.choices)
    to_status = models.CharField(_("to"), max_length=10, choices=Ticket.Status.choices)

    class Meta:
        ordering = ["from_status", "to_status"]
        verbose_name = _("status transition")
        verbose_name_plural = _("status transitions")
        constraints = [
            models.UniqueConstraint(fields=["from_status", "to_status"], name="statustransition_unique"),
            models.CheckConstraint(
                condition=~Q(from_status=models.F("to_status")), name="statustransition_change"
            ),
        ]

    def __str__(self):
        return f"{self.from_status} → {self.to_status}"


class TicketComment(models.Model):
    """A public reply (the customer may see it) or an internal note (staff only)."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body = models.TextField(_("text"))
    internal = models.BooleanField(_("internal note"), default=False)
    created_at = models.DateTimeField(_("written"))

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket comment")
        verbose_name_plural = _("ticket comments")
        indexes = [models.Index(fields=["ticket", "created_at", "id"], name="ticketcomment_thread_idx")]

    def __str__(self):
        return self.body[:50]


def attachment_path(instance, filename):
    """A random stored name: the uploader's file name never reaches the file system."""
    suffix = PurePosixPath(filename).suffix.lower()[:10]
    now = timezone.now()
    return f"tickets/{now:%Y/%m}/{uuid.uuid4().hex}{suffix}"


class TicketAttachment(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="attachments")
    comment = models.ForeignKey(
        TicketComment, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    file = models.FileField(upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self):
        return self.original_name


class SlaEvent(models.Model):
    """A warning or a breach of one target of one ticket: recorded once, whatever the sweep does twice."""

    class Target(models.TextChoices):
        FIRST_RESPONSE = "first_response", _("First response")
        RESOLUTION = "resolution", _("Resolution")

    class Kind(models.TextChoices):
        WARNING = "warning", _("Warning")
        BREACH = "breach", _("Breach")

    # The unique constraint below leads with the ticket: it serves as the ticket's index too.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="sla_events", db_index=False)
    target = models.CharField(max_length=20, choices=Target.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    due_at = models.DateTimeField()
    occurred_at = models.DateTimeField()

    class Meta:
        ordering = ["occurred_at", "id"]
        verbose_name = _("SLA event")
        verbose_name_plural = _("SLA events")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "target", "kind"], name="slaevent_once_per_target")
        ]

    def __str__(self):
        return f"{self.ticket_id} {self.target} {self.kind}"


class EscalationRule(models.Model):
    """What happens when a target is about to be missed or is missed, in levels."""

    class Trigger(models.TextChoices):
        WARNING = "warning", _("Before the deadline (warning)")
        BREACH = "breach", _("After the deadline (breach)")

    class Target(models.TextChoices):
        ANY = "any", _("Either target")
        FIRST_RESPONSE = "first_response", _("First response")
        RESOLUTION = "resolution", _("Resolution")

    class Action(models.TextChoices):
        NOTIFY_ASSIGNEE = "notify_assignee", _("Notify the assignee")
        NOTIFY_MANAGER = "notify_manager", _("Notify the team's manager")
        RAISE_PRIORITY = "raise_priority", _("Raise the priority one step")
        REASSIGN = "reassign", _("Reassign")

    name = models.CharField(_("name"), max_length=100)
    level = models.PositiveSmallIntegerField(_("level"), default=1)
    policy = models.ForeignKey(
        SlaPolicy,
        verbose_name=_("SLA policy"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="escalation_rules",
        help_text=_("Empty: every policy."),
    )
    trigger = models.CharField(_("when"), max_length=10, choices=Trigger.choices)
    target = models.CharField(_("target"), max_length=20, choices=Target.choices, default=Target.ANY)
    delay_minutes = models.PositiveIntegerField(
        _("delay (minutes)"), default=0, help_text=_("Wait this long after the warning or breach.")
    )
    action = models.CharField(_("action"), max_length=20, choices=Action.choices)
    assign_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reassign to"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    assign_team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("or to the team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("The team's assignment rule picks the agent."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["level", "trigger", "id"]
        verbose_name = _("escalation rule")
        verbose_name_plural = _("escalation rules")

    def __str__(self):
        return self.name


class Escalation(models.Model):
    """One rule fired for one ticket and target; fires once."""

    # The unique constraint below leads with the ticket: it serves as the ticket's index too.
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="escalations", db_index=False)
    rule = models.ForeignKey(EscalationRule, on_delete=models.CASCADE, related_name="+")
    target = models.CharField(max_length=20, choices=SlaEvent.Target.choices)
    level = models.PositiveSmallIntegerField()
    action = models.CharField(max_length=20, choices=EscalationRule.Action.choices)
    notified = models.ForeignKey(  # users are deactivated, not deleted: no index for SET_NULL
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    fired_at = models.DateTimeField()

    class Meta:
        ordering = ["fired_at", "id"]
        verbose_name = _("escalation")
        verbose_name_plural = _("escalations")
        constraints = [
            models.UniqueConstraint(fields=["ticket", "rule", "target"], name="escalation_once_per_rule")
        ]

    def __str__(self):
        return f"{self.ticket_id} L{self.level} {self.action}"


class AssignmentRule(models.Model):
    """How new tickets of a team are handed out."""

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin")
        LEAST_BUSY = "least_busy", _("Least busy (fewest open tickets)")

    team = models.OneToOneField(
        "crm.Team", verbose_name=_("team"), on_delete=models.CASCADE, related_name="ticket_assignment"
    )
    strategy = models.CharField(_("strategy"), max_length=20, choices=Strategy.choices)
    auto_assign = models.BooleanField(
        _("assign new tickets automatically"),
        default=True,
        help_text=_("Otherwise new tickets wait in the team's queue until someone takes or assigns them."),
    )
    available_only = models.BooleanField(
        _("prefer available agents"),
        default=True,
        help_text=_("Only agents whose presence is Available, or everyone when nobody is."),
    )
    last_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["team__name"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self):
        return f"{self.team}: {self.get_strategy_display()}"


class SavedFilter(models.Model):
    """A user's named queue search."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ticket_filters"
    )
    name = models.CharField(_("name"), max_length=60)
    query = models.CharField(max_length=1000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("saved filter")
        verbose_name_plural = _("saved filters")
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="savedfilter_unique_name")]

    def __str__(self):
        return self.name


class Article(models.Model):
    """A knowledge-base article. Edits are saved as versions; readers see the published one."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        ARCHIVED = "archived", _("Archived")

    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=220, unique=True, allow_unicode=True)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    current_version = models.ForeignKey(
        "ArticleVersion",
        verbose_name=_("published version"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The published title and text, for search (a trigram index on PostgreSQL; see migration 0007).
    search_document = models.TextField(blank=True, default="")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        permissions = [("publish_article", _("Can publish knowledge-base articles"))]
        indexes = [models.Index(fields=["status", "category"], name="article_status_idx")]

    def __str__(self):
        return self.title


class ArticleVersion(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("version"))
    title = models.CharField(_("title"), max_length=200)
    body = models.TextField(_("text"))
    published = models.BooleanField(_("published"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("saved"), default=timezone.now)

    class Meta:
        ordering = ["-number"]
        verbose_name = _("article version")
        verbose_name_plural = _("article versions")
        constraints = [models.UniqueConstraint(fields=["article", "number"], name="articleversion_unique")]

    def __str__(self):
        return f"{self.title} v{self.number}"


class CannedReply(models.Model):
    """A reply text agents insert in tickets and social conversations; {{ variables }} are filled in."""

    title = models.CharField(_("title"), max_length=100)
    shortcut = models.SlugField(
        _("shortcut"),
        max_length=30,
        blank=True,
        allow_unicode=True,
        help_text=_("Type /shortcut to find it."),
    )
    body = models.TextField(_("text"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="canned_replies",
    )
    team = models.ForeignKey(
        "crm.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shared = models.BooleanField(_("shared with everyone"), default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["title", "id"]
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")

    def __str__(self):
        return self.title


class Mailbox(models.Model):
    """An inbound support mailbox polled over IMAP; replies to its tickets go out from its address."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    email_address = models.EmailField(
        _("e-mail address"), help_text=_("Customers write to this address; replies are sent from it.")
    )
    host = models.CharField(_("IMAP host"), max_length=255)
    port = models.PositiveIntegerField(_("IMAP port"), default=993)
    use_ssl = models.BooleanField(_("SSL/TLS"), default=True)
    username = models.CharField(_("user name"), max_length=255)
    # Fernet token (tickets.crypto); the password itself is never shown again after it is saved.
    password_encrypted = models.TextField(blank=True, editable=False)
    folder = models.CharField(_("folder"), max_length=255, default="INBOX")
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("New tickets from this mailbox go to this team's queue."),
    )
    default_category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    default_priority = models.CharField(
        _("priority"), max_length=10, choices=Priority.choices, default=Priority.NORMAL
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    uid_validity = models.BigIntegerField(default=0, editable=False)
    last_uid = models.BigIntegerField(_("last message read"), default=0, editable=False)
    last_polled_at = models.DateTimeField(_("last checked"), null=True, blank=True, editable=False)
    last_error = models.CharField(_("last error"), max_length=500, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("mailbox")
        verbose_name_plural = _("mailboxes")

    def __str__(self):
        return f"{self.name} <{self.email_address}>"


class TicketEmail(models.Model):
    """One e-mail of a ticket's thread, received or sent, keyed by its Message-ID: replies find their
    ticket through In-Reply-To/References, and a message polled twice is recognised."""

    class Direction(models.TextChoices):
        IN = "in", _("Received")
        OUT = "out", _("Sent")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="emails", db_index=False)
    comment = models.OneToOneField(
        TicketComment, null=True, blank=True, on_delete=models.SET_NULL, related_name="email"
    )
    mailbox = models.ForeignKey(
        Mailbox, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )
    direction = models.CharField(max_length=3, choices=Direction.choices)
    message_id = models.CharField(max_length=255, unique=True)
    from_address = models.CharField(max_length=255, blank=True)
    to_address = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("ticket e-mail")
        verbose_name_plural = _("ticket e-mails")
        indexes = [models.Index(fields=["ticket", "created_at"], name="ticketemail_thread_idx")]

    def __str__(self):
        return self.message_id


class CsatSurvey(models.Model):
    """A satisfaction survey sent when a ticket was solved, and the customer's answer.

    The link carries the survey id and `nonce`, signed and time-stamped (tickets.csat). The agent and
    team are those of the ticket when it was solved, so reports stay right after a reassignment.
    """

    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        LINE = "line", "LINE"

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="csat_surveys")
    nonce = models.CharField(max_length=32, unique=True)
    channel = models.CharField(_("sent by"), max_length=10, choices=Channel.choices)
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agent"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    team = models.ForeignKey(
        "crm.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rating = models.PositiveSmallIntegerField(_("rating"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    sent_at = models.DateTimeField(_("sent"))
    answered_at = models.DateTimeField(_("answered"), null=True, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        verbose_name = _("satisfaction survey")
        verbose_name_plural = _("satisfaction surveys")
        indexes = [models.Index(fields=["sent_at"], name="csat_sent_idx")]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="csat_rating_1_to_5"
            )
        ]

    def __str__(self):
        return f"{self.ticket_id}: {self.rating or '-'}"
