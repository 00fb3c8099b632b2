from decimal import Decimal

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class Pipeline(models.Model):
    """A sequence of stages a kind of deal goes through (B2B projects, B2C memberships…)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["order", "name", "id"]
        verbose_name = _("pipeline")
        verbose_name_plural = _("pipelines")

    def __str__(self):
        return self.name


class Stage(models.Model):
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.CASCADE, related_name="stages"
    )
    name = models.CharField(_("name"), max_length=100)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    probability = models.PositiveSmallIntegerField(
        _("win probability (%)"),
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text=_("Weighted totals count a deal in this stage at this share of its amount."),
    )
    rotting_days = models.PositiveSmallIntegerField(
        _("rotting after (days)"),
        null=True,
        blank=True,
        help_text=_("Highlight open deals without activity for this many days. Empty: never."),
    )
    is_won = models.BooleanField(_("won"), default=False)
    is_lost = models.BooleanField(_("lost"), default=False)

    class Meta:
        ordering = ["pipeline", "order", "id"]
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        constraints = [
            models.UniqueConstraint(fields=["pipeline", "name"], name="stage_unique_name_per_pipeline"),
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100), name="stage_probability_0_100"
            ),
            models.CheckConstraint(condition=~Q(is_won=True, is_lost=True), name="stage_not_won_and_lost"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_closed(self):
        return self.is_won or self.is_lost


class LostReason(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("lost reason")
        verbose_name_plural = _("lost reasons")

    def __str__(self):
        return self.name


class Product(models.Model):
    name = models.CharField(_("name"), max_length=200)
    code = models.CharField(_("code"), max_length=50, blank=True)
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="TWD")
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self):
        return f"{self.name} ({self.code})" if self.code else self.name


class Deal(models.Model):
    """A sales opportunity. Changed only through sales.services; `version` guards against lost updates."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    class Contract(models.TextChoices):
        NONE = "none", _("None")
        SENT = "sent", _("Sent")
        SIGNED = "signed", _("Signed")
        EXPIRED = "expired", _("Expired")

    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="deals"
    )
    organisation = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="organisation_deals",
    )
    title = models.CharField(_("title"), max_length=200)
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2, default=Decimal("0"))
    currency = models.CharField(_("currency"), max_length=3, default="TWD")
    expected_close_date = models.DateField(_("expected close date"), null=True, blank=True)
    pipeline = models.ForeignKey(
        Pipeline, verbose_name=_("pipeline"), on_delete=models.PROTECT, related_name="deals"
    )
    stage = models.ForeignKey(Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="deals")
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_deals",
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="deals",
    )
    source = models.CharField(_("source"), max_length=100, blank=True)
    tags = models.ManyToManyField("customers.Tag", verbose_name=_("tags"), blank=True, related_name="deals")
    lost_reason = models.ForeignKey(
        LostReason, verbose_name=_("lost reason"), null=True, blank=True, on_delete=models.PROTECT
    )
    lost_note = models.CharField(_("why it was lost"), max_length=500, blank=True)
    contract_status = models.CharField(
        _("contract"), max_length=10, choices=Contract.choices, default=Contract.NONE
    )
    after_sale_follow_up_on = models.DateField(
        _("after-sale follow-up on"),
        null=True,
        blank=True,
        help_text=_("When the deal is won, a follow-up task is created for this day."),
    )
    version = models.PositiveIntegerField(default=1, editable=False)
    stage_changed_at = models.DateTimeField(_("in this stage since"), default=timezone.now)
    last_activity_at = models.DateTimeField(_("last activity"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("deal")
        verbose_name_plural = _("deals")
        permissions = [
            ("export_deals", _("Can export deal lists")),
            ("share_deal", _("Can share a deal with another user")),
            ("manage_pipelines", _("Can edit pipelines, stages, lost reasons, products and cadences")),
        ]
        indexes = [
            models.Index(fields=["pipeline", "stage", "-created_at", "-id"], name="deal_board_idx"),
            models.Index(fields=["owner", "status"], name="deal_owner_idx"),
            models.Index(fields=["team", "status"], name="deal_team_idx"),
            models.Index(fields=["customer", "status"], name="deal_customer_idx"),
            models.Index(fields=["expected_close_date"], name="deal_close_date_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="deal_amount_not_negative")]

    def __str__(self):
        return self.title

    @property
    def weighted_amount(self):
        return self.amount * self.stage.probability / 100

    def is_rotting(self, now=None):
        if self.status != self.Status.OPEN or not self.stage.rotting_days:
            return False
        return ((now or timezone.now()) - self.last_activity_at).days >= self.stage.rotting_days


class DealLineItem(models.Model):
    deal = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="line_items")
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL
    )
    description = models.CharField(_("description"), max_length=200)
    quantity = models.DecimalField(
        _("quantity"),
        max_digits=10,
        decimal_places=2,
        default=Decimal("1"),
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    unit_price = models.DecimalField(
        _("unit price"), max_digits=14, decimal_places=2, validators=[MinValueValidator(Decimal("0"))]
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deal", "id"]
        verbose_name = _("line item")
        verbose_name_plural = _("line items")

    def __str__(self):
        return self.description

    @property
    def total(self):
        return self.quantity * self.unit_price


class DealUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="user_shares")


class DealGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Deal, on_delete=models.CASCADE, related_name="group_shares")


class Cadence(models.Model):
    """A follow-up rhythm: e.g. "call again in 3 days if no answer, at most 3 times"."""

    class Repeat(models.TextChoices):
        NO_ANSWER = "no_answer", _("Only when there was no answer")
        ALWAYS = "always", _("Every time the task is done")

    name = models.CharField(_("name"), max_length=100, unique=True)
    interval_days = models.PositiveSmallIntegerField(
        _("next task after (days)"), default=3, validators=[MinValueValidator(1), MaxValueValidator(365)]
    )
    repeat = models.CharField(_("repeat"), max_length=20, choices=Repeat.choices, default=Repeat.NO_ANSWER)
    max_attempts = models.PositiveSmallIntegerField(
        _("at most (tasks)"),
        default=3,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("How many tasks the cadence creates in a row, the first one included."),
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("cadence")
        verbose_name_plural = _("cadences")

    def __str__(self):
        return self.name


class Task(models.Model):
    """A follow-up: the shared object call wrap-ups, missed calls, tickets and social conversations create."""

    class Priority(models.IntegerChoices):
        LOW = 1, _("Low")
        NORMAL = 2, _("Normal")
        HIGH = 3, _("High")

    class Outcome(models.TextChoices):
        DONE = "done", _("Done")
        NO_ANSWER = "no_answer", _("No answer")

    title = models.CharField(_("title"), max_length=200)
    note = models.TextField(_("note"), blank=True, max_length=5000)
    due_at = models.DateTimeField(_("due"))
    remind_at = models.DateTimeField(
        _("remind at"), null=True, blank=True, help_text=_("Empty: no reminder.")
    )
    reminder_sent_at = models.DateTimeField(null=True, blank=True, editable=False)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="tasks",
    )
    deal = models.ForeignKey(
        Deal, verbose_name=_("deal"), null=True, blank=True, on_delete=models.CASCADE, related_name="tasks"
    )
    # What asked for the task when it is not a deal: a call, a ticket, a conversation.
    source_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    source_id = models.BigIntegerField(null=True, blank=True)
    source = GenericForeignKey("source_type", "source_id")
    priority = models.PositiveSmallIntegerField(
        _("priority"), choices=Priority.choices, default=Priority.NORMAL
    )
    cadence = models.ForeignKey(
        Cadence,
        verbose_name=_("cadence"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    attempt = models.PositiveSmallIntegerField(default=1, editable=False)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_task", editable=False
    )
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    done_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=20, choices=Outcome.choices, blank=True)
    data = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("task")
        verbose_name_plural = _("tasks")
        indexes = [
            models.Index(
                fields=["assignee", "due_at"],
                name="task_open_by_assignee_idx",
                condition=Q(done_at__isnull=True),
            ),
            models.Index(
                fields=["team", "due_at"],
                name="task_open_unassigned_idx",
                condition=Q(done_at__isnull=True, assignee__isnull=True),
            ),
            models.Index(
                fields=["remind_at"],
                name="task_reminder_due_idx",
                condition=Q(done_at__isnull=True, reminder_sent_at__isnull=True, remind_at__isnull=False),
            ),
            models.Index(fields=["customer", "done_at"], name="task_customer_idx"),
            models.Index(fields=["deal", "done_at"], name="task_deal_idx"),
            models.Index(fields=["source_type", "source_id"], name="task_source_idx"),
        ]

    def __str__(self):
        return self.title

    @property
    def is_done(self):
        return self.done_at is not None

    def is_overdue(self, now=None):
        return not self.is_done and self.due_at < (now or timezone.now())


# Assignment rules ------------------------------------------------------------------------------


class AssignmentRule(models.Model):
    """One line of the ordered rule list that gives new leads and deals an owner.

    The first enabled rule whose condition matches decides; its strategy picks the owner. The round
    robin pointer (`last_assigned`) is moved under a row lock so that concurrent assignments never pick
    the same rep twice in a row.
    """

    class AppliesTo(models.TextChoices):
        BOTH = "both", _("Leads and deals")
        LEADS = "leads", _("New leads")
        DEALS = "deals", _("New deals")

    class Condition(models.TextChoices):
        ANY = "any", _("Any")
        SOURCE = "source", _("Source is")
        REGION = "region", _("Phone area is")

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", _("Round robin within a team")
        LEAST_OPEN = "least_open", _("Least open deals within a team")
        FIXED = "fixed", _("Always the same user")

    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveSmallIntegerField(
        _("position"), default=0, help_text=_("Rules are tried from the lowest position up.")
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    applies_to = models.CharField(
        _("applies to"), max_length=10, choices=AppliesTo.choices, default=AppliesTo.BOTH
    )
    condition = models.CharField(
        _("condition"), max_length=10, choices=Condition.choices, default=Condition.ANY
    )
    value = models.CharField(
        _("value"),
        max_length=100,
        blank=True,
        help_text=_("The source (e.g. “LINE”) or the phone area (e.g. “Taipei” or “臺北”); case is ignored."),
    )
    strategy = models.CharField(
        _("strategy"), max_length=20, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assignment_rules",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="assignment_rules",
    )
    last_assigned = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["position", "id"]
        verbose_name = _("assignment rule")
        verbose_name_plural = _("assignment rules")

    def __str__(self):
        return self.name


class AssignmentLog(models.Model):
    """The audit of assignments: who got which lead or deal, by which rule, and why."""

    class Reason(models.TextChoices):
        NEW = "new", _("New record")
        DEACTIVATED = "deactivated", _("Previous owner deactivated")

    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="assignment_logs"
    )
    deal = models.ForeignKey(
        Deal, null=True, blank=True, on_delete=models.CASCADE, related_name="assignment_logs"
    )
    rule = models.ForeignKey(
        AssignmentRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="logs"
    )
    rule_name = models.CharField(_("rule"), max_length=100, blank=True)
    strategy = models.CharField(_("strategy"), max_length=20, blank=True)
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices, default=Reason.NEW)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assigned to"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    previous_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("when"), default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("assignment log entry")
        verbose_name_plural = _("assignment log")

    def __str__(self):
        return f"{self.rule_name or '-'} → {self.assigned_to_id}"


# Orders ----------------------------------------------------------------------------------------


class Order(models.Model):
    """A purchase the customer made (in a store, online, in the LINE shop). Unique by its order number."""

    class Channel(models.TextChoices):
        STORE = "store", _("Store")
        ECOMMERCE = "ecommerce", _("E-commerce")
        LINE_SHOP = "line_shop", _("LINE shop")
        OTHER = "other", _("Other")

    class Source(models.TextChoices):
        API = "api", _("API")
        CSV = "csv", _("CSV import")
        MANUAL = "manual", _("Entered by hand")

    number = models.CharField(_("order number"), max_length=64, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="orders"
    )
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.STORE)
    ordered_at = models.DateTimeField(_("date"))
    amount = models.DecimalField(_("amount"), max_digits=14, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, default="TWD")
    note = models.CharField(_("note"), max_length=500, blank=True)
    source = models.CharField(_("entered by"), max_length=10, choices=Source.choices, default=Source.API)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-ordered_at", "-id"]
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        permissions = [("import_orders", _("Can import orders from a CSV file"))]
        indexes = [
            models.Index(fields=["customer", "-ordered_at"], name="order_customer_idx"),
            models.Index(fields=["-ordered_at", "-id"], name="order_recent_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(amount__gte=0), name="order_amount_not_negative")]

    def __str__(self):
        return self.number


class OrderItem(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="items")
    sku = models.CharField(_("SKU"), max_length=64, blank=True)
    description = models.CharField(_("description"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["order", "id"]
        verbose_name = _("order item")
        verbose_name_plural = _("order items")

    def __str__(self):
        return self.description

    @property
    def total(self):
        return self.quantity * self.unit_price


# Quotes ----------------------------------------------------------------------------------------


class QuoteSequence(models.Model):
    """The last quote number given out in a year: locked while a number is taken, so numbers have no gaps."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("quote numbering")
        verbose_name_plural = _("quote numbering")

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class Quote(models.Model):
    """One version of a quote. A revision is a new row with the same number and the next version;
    the versions before it are superseded and kept read-only. Totals are computed by sales.quotes."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        SENT = "sent", _("Sent")
        ACCEPTED = "accepted", _("Accepted")
        DECLINED = "declined", _("Declined")
        SUPERSEDED = "superseded", _("Superseded")

    deal = models.ForeignKey(Deal, verbose_name=_("deal"), on_delete=models.CASCADE, related_name="quotes")
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.CASCADE, related_name="quotes"
    )
    number = models.CharField(_("number"), max_length=20)
    version = models.PositiveSmallIntegerField(_("version"), default=1)
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_version", editable=False
    )
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    currency = models.CharField(_("currency"), max_length=3, default="TWD")
    valid_until = models.DateField(_("valid until"))
    discount_percent = models.DecimalField(
        _("quote discount (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("0"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    tax_percent = models.DecimalField(
        _("tax (%)"),
        max_digits=5,
        decimal_places=2,
        default=Decimal("5"),
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    notes = models.TextField(_("notes and terms"), blank=True, max_length=5000)
    subtotal = models.DecimalField(_("subtotal"), max_digits=16, decimal_places=2, default=Decimal("0"))
    discount_amount = models.DecimalField(
        _("discount"), max_digits=16, decimal_places=2, default=Decimal("0")
    )
    tax_amount = models.DecimalField(_("tax"), max_digits=16, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2, default=Decimal("0"))
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    sent_to = models.CharField(_("sent to"), max_length=255, blank=True)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("quote")
        verbose_name_plural = _("quotes")
        constraints = [
            models.UniqueConstraint(fields=["number", "version"], name="quote_number_version_unique"),
        ]
        indexes = [
            models.Index(fields=["deal", "-created_at"], name="quote_deal_idx"),
            models.Index(fields=["customer", "-created_at"], name="quote_customer_idx"),
        ]

    def __str__(self):
        return f"{self.number} v{self.version}"

    @property
    def is_current(self):
        return self.status != self.Status.SUPERSEDED

    @property
    def is_editable(self):
        """Only the newest version, before the customer decided, may be revised, sent or decided."""
        return self.status in (self.Status.DRAFT, self.Status.SENT)


class QuoteLine(models.Model):
    quote = models.ForeignKey(Quote, on_delete=models.CASCADE, related_name="lines")
    position = models.PositiveSmallIntegerField(default=0)
    product = models.ForeignKey(
        Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.SET_NULL
    )
    description = models.CharField(_("description"), max_length=200)
    quantity = models.DecimalField(_("quantity"), max_digits=10, decimal_places=2, default=Decimal("1"))
    unit_price = models.DecimalField(_("unit price"), max_digits=14, decimal_places=2)
    discount_percent = models.DecimalField(
        _("discount (%)"), max_digits=5, decimal_places=2, default=Decimal("0")
    )
    total = models.DecimalField(_("total"), max_digits=16, decimal_places=2, default=Decimal("0"))

    class Meta:
        ordering = ["quote", "position", "id"]
        verbose_name = _("quote line")
        verbose_name_plural = _("quote lines")

    def __str__(self):
        return self.description


# Forecast and commission -----------------------------------------------------------------------


class CommissionRate(models.Model):
    """A rep's or a team's commission on won deals; the most specific rate applies (see sales.forecast)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sales rep"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="commission_rates",
        help_text=_("Empty: everyone in the team (or everyone, when the team is empty too)."),
    )
    team = models.ForeignKey(
        "crm.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    pipeline = models.ForeignKey(
        Pipeline,
        verbose_name=_("pipeline"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Empty: deals of every pipeline."),
    )
    percent = models.DecimalField(
        _("commission (%)"),
        max_digits=5,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))],
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["user", "team", "pipeline", "id"]
        verbose_name = _("commission rate")
        verbose_name_plural = _("commission rates")
        constraints = [
            models.CheckConstraint(
                condition=Q(percent__gte=0, percent__lte=100), name="commission_percent_0_100"
            ),
        ]

    def __str__(self):
        who = self.user or self.team or _("everyone")
        return f"{who}: {self.percent}%"


class ForecastSnapshot(models.Model):
    """A rep's forecast for a month as it stood at the month's start, to compare with what was won."""

    month = models.DateField(_("month"), help_text=_("The first day of the month."))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("sales rep"), on_delete=models.CASCADE, related_name="+"
    )
    currency = models.CharField(_("currency"), max_length=3)
    weighted = models.DecimalField(_("weighted"), max_digits=16, decimal_places=2, default=Decimal("0"))
    best_case = models.DecimalField(_("best case"), max_digits=16, decimal_places=2, default=Decimal("0"))
    committed = models.DecimalField(_("committed"), max_digits=16, decimal_places=2, default=Decimal("0"))
    deal_count = models.PositiveIntegerField(default=0)
    taken_at = models.DateTimeField(_("taken"), default=timezone.now)

    class Meta:
        ordering = ["-month", "owner", "currency"]
        verbose_name = _("forecast snapshot")
        verbose_name_plural = _("forecast snapshots")
        permissions = [
            ("view_forecast", _("Can see the sales forecast and commissions")),
        ]
        constraints = [
            models.UniqueConstraint(fields=["month", "owner", "currency"], name="forecast_snapshot_unique"),
        ]

    def __str__(self):
        return f"{self.month:%Y-%m} {self.owner} {self.currency}"


class OrderImport(models.Model):
    """A large CSV import of orders running in the background; the page shows its progress and errors."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    file_name = models.CharField(_("file"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    rows = models.JSONField(default=list, blank=True, editable=False)
    total = models.PositiveIntegerField(_("orders in the file"), default=0)
    processed = models.PositiveIntegerField(_("orders processed"), default=0)
    created = models.PositiveIntegerField(_("orders recorded"), default=0)
    existing = models.PositiveIntegerField(_("orders already there"), default=0)
    errors = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(_("started"), default=timezone.now)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("order import")
        verbose_name_plural = _("order imports")

    def __str__(self):
        return f"{self.file_name} ({self.status})"

    @property
    def percent(self) -> int:
        return round(100 * self.processed / self.total) if self.total else 100
