from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase


class Tag(models.Model):
    name = models.CharField(_("name"), max_length=50, unique=True)
    color = models.CharField(_("colour"), max_length=20, default="secondary")

    class Meta:
        ordering = ["name"]
        verbose_name = _("tag")
        verbose_name_plural = _("tags")

    def __str__(self):
        return self.name


class Customer(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        ORGANISATION = "organisation", _("Organisation")

    class Lifecycle(models.TextChoices):
        LEAD = "lead", _("Lead")
        PROSPECT = "prospect", _("Prospect")
        CUSTOMER = "customer", _("Customer")
        CHURNED = "churned", _("Churned")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(_("name"), max_length=200)
    organisation = models.ForeignKey(
        "self",
        verbose_name=_("organisation"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="members",
        limit_choices_to={"kind": "organisation"},
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
    )
    team = models.ForeignKey(
        "crm.Team",
        verbose_name=_("team"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="customers",
    )
    lifecycle_stage = models.CharField(
        _("lifecycle stage"), max_length=20, choices=Lifecycle.choices, default=Lifecycle.LEAD
    )
    source = models.CharField(_("source"), max_length=100, blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="customers")
    custom_attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    # Set when this record was merged into another: it keeps nothing of its own and lists hide it,
    # but it stays so that the merge can be undone and old links lead to the kept record.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
    )
    # Newest occurred_at of the customer's timeline, kept by the timeline writers (record_interaction(s),
    # merging) with UPDATE statements only: segment rules on recency read it instead of probing the
    # timeline once per customer. Never written by save() (see below), so a stale instance cannot undo it.
    last_interaction_at = models.DateTimeField(_("last interaction"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [
            ("view_contact_details", _("Can see unmasked phone numbers and e-mail addresses")),
            ("export_customers", _("Can export customer lists")),
            ("share_customer", _("Can share a customer with another user")),
            ("merge_customer", _("Can merge duplicate customers")),
            ("handle_data_request", _("Can export or erase a customer's data on request")),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="customer_owner_idx"),
            models.Index(fields=["team", "-created_at"], name="customer_team_idx"),
            models.Index(fields=["name"], name="customer_name_idx"),
            models.Index(fields=["last_interaction_at"], name="customer_last_interaction_idx"),
            models.Index(fields=["lifecycle_stage", "last_interaction_at"], name="customer_stage_recent_idx"),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        # last_interaction_at belongs to the timeline writers; a full save of an instance loaded
        # before a new interaction must not put the old value back.
        if not self._state.adding and kwargs.get("update_fields") is None and not kwargs.get("force_insert"):
            kwargs["update_fields"] = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name != "last_interaction_at"
            ]
        super().save(*args, **kwargs)

    @property
    def is_organisation(self):
        return self.kind == self.Kind.ORGANISATION


class ContactPoint(models.Model):
    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")
        OTHER = "other", _("Other")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contact_points")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=255, help_text=_("As entered."))
    normalised = models.CharField(
        _("normalised value"), max_length=255, help_text=_("E.164 for phones, lower case for e-mail.")
    )
    extension = models.CharField(_("extension"), max_length=20, blank=True)
    label = models.CharField(_("label"), max_length=50, blank=True)
    is_primary = models.BooleanField(_("primary"), default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-is_primary", "kind", "id"]
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        indexes = [models.Index(fields=["normalised", "kind"], name="contactpoint_lookup_idx")]

    def __str__(self):
        return self.value


class SocialIdentity(models.Model):
    """A customer's account on a social channel (a LINE user id, a WeChat openid)."""

    class Provider(models.TextChoices):
        LINE = "line", "LINE"
        WECHAT = "wechat", _("WeChat")
        WECOM = "wecom", _("WeCom")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="social_identities")
    provider = models.CharField(_("provider"), max_length=20, choices=Provider.choices)
    channel = models.CharField(
        _("channel"), max_length=100, blank=True, help_text=_("The official account this identity follows.")
    )
    external_id = models.CharField(_("external id"), max_length=128)
    display_name = models.CharField(_("display name"), max_length=200, blank=True)
    avatar_url = models.URLField(_("avatar"), max_length=1000, blank=True)
    followed = models.BooleanField(_("following"), default=True)
    followed_at = models.DateTimeField(null=True, blank=True)
    unfollowed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("social identity")
        verbose_name_plural = _("social identities")
        constraints = [
            models.UniqueConstraint(
                fields=["provider", "channel", "external_id"], name="socialidentity_unique_per_channel"
            )
        ]

    def __str__(self):
        return f"{self.get_provider_display()}: {self.display_name or self.external_id}"


class Consent(models.Model):
    """One grant or withdrawal; the newest row per purpose and channel is the customer's current choice."""

    class Purpose(models.TextChoices):
        MARKETING = "marketing", _("Marketing messages")
        SERVICE = "service", _("Service notifications")
        PROFILING = "profiling", _("Analytics and profiling")
        THIRD_PARTY = "third_party", _("Sharing with partners")

    class Channel(models.TextChoices):
        ANY = "any", _("Any channel")
        PHONE = "phone", _("Phone")
        SMS = "sms", _("SMS")
        EMAIL = "email", _("E-mail")
        LINE = "line", "LINE"
        WECHAT = "wechat", _("WeChat")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    purpose = models.CharField(_("purpose"), max_length=30, choices=Purpose.choices)
    channel = models.CharField(_("channel"), max_length=20, choices=Channel.choices, default=Channel.ANY)
    granted = models.BooleanField(_("granted"))
    source = models.CharField(_("source"), max_length=100, blank=True)
    occurred_at = models.DateTimeField(_("when"), default=timezone.now)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("consent")
        verbose_name_plural = _("consents")
        indexes = [
            models.Index(
                fields=["customer", "purpose", "channel", "-occurred_at"], name="consent_current_idx"
            )
        ]

    def __str__(self):
        return f"{self.customer_id} {self.purpose}/{self.channel}: {self.granted}"


class Interaction(models.Model):
    """One touch of a customer: THE timeline. Written only by services.record_interaction()."""

    class Kind(models.TextChoices):
        NOTE = "note", _("Note")
        CALL = "call", _("Call")
        MESSAGE_IN = "message_in", _("Message received")
        MESSAGE_OUT = "message_out", _("Message sent")
        FOLLOW = "follow", _("Followed")
        UNFOLLOW = "unfollow", _("Unfollowed")
        POSTBACK = "postback", _("Campaign response")
        TICKET = "ticket", _("Ticket")
        TASK = "task", _("Follow-up task")
        DEAL = "deal", _("Deal")
        QUOTE = "quote", _("Quote")
        ORDER = "order", _("Order")
        BROADCAST = "broadcast", _("Broadcast received")
        CONSENT = "consent", _("Consent")
        SYSTEM = "system", _("Profile change")
        SOCIAL_EVENT = "social_event", _("Social activity")

    class Channel(models.TextChoices):
        PHONE = "phone", _("Phone")
        LINE = "line", "LINE"
        WECHAT = "wechat", _("WeChat")
        EMAIL = "email", _("E-mail")
        WEB = "web", _("Web")
        IN_PERSON = "in_person", _("In person")
        CRM = "crm", _("CRM")

    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="interactions", db_index=False
    )
    occurred_at = models.DateTimeField(_("when"))
    kind = models.CharField(_("kind"), max_length=32, choices=Kind.choices)
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices, default=Channel.CRM)
    summary = models.CharField(_("summary"), max_length=500)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, db_index=False
    )
    subject_type = models.ForeignKey(ContentType, null=True, blank=True, on_delete=models.SET_NULL)
    subject_id = models.BigIntegerField(null=True, blank=True)
    subject = GenericForeignKey("subject_type", "subject_id")
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        verbose_name = _("interaction")
        verbose_name_plural = _("interactions")
        indexes = [
            models.Index(fields=["customer", "-occurred_at", "-id"], name="interaction_timeline_idx"),
            models.Index(fields=["actor", "customer"], name="interaction_actor_idx"),
            models.Index(fields=["subject_type", "subject_id"], name="interaction_subject_idx"),
        ]

    def __str__(self):
        return self.summary


class CustomerLookup(models.Model):
    """An exact phone-number lookup: it lets an agent open the caller's profile for a while."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    number = models.CharField(max_length=40)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user", "customer", "-created_at"], name="lookup_user_idx")]

    def __str__(self):
        return f"{self.user_id} looked up {self.number}"


class CustomerUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="user_shares")


class CustomerGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="group_shares")


class DuplicateCandidate(models.Model):
    """Two customers that look like one person, found by the duplicate scan (customers.dedup)."""

    class Reason(models.TextChoices):
        PHONE = "phone", _("Same phone number")
        EMAIL = "email", _("Same e-mail address")
        SOCIAL = "social", _("Same LINE/WeChat account")
        NAME_ORGANISATION = "name_organisation", _("Similar name, same organisation")
        MANUAL = "manual", _("Chosen by hand")

    class Status(models.TextChoices):
        OPEN = "open", _("To review")
        NOT_DUPLICATE = "not_duplicate", _("Not a duplicate")
        MERGED = "merged", _("Merged")

    # customer_a is always the older record (lower id): one row per pair whichever way it was found.
    customer_a = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    customer_b = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("reason"), max_length=30, choices=Reason.choices)
    score = models.FloatField(_("score"))
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.OPEN)
    found_at = models.DateTimeField(_("found"), default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("duplicate candidate")
        verbose_name_plural = _("duplicate candidates")
        constraints = [
            models.UniqueConstraint(fields=["customer_a", "customer_b"], name="duplicate_pair_unique"),
            models.CheckConstraint(
                condition=models.Q(customer_a__lt=models.F("customer_b")), name="duplicate_pair_ordered"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "-score", "id"], name="duplicate_review_idx"),
            models.Index(fields=["customer_b"], name="duplicate_b_idx"),
        ]

    def __str__(self):
        return f"{self.customer_a_id} ~ {self.customer_b_id} ({self.reason}, {self.score:.2f})"


class CustomerMerge(models.Model):
    """The audit record of one merge, with what undoing it needs (customers.merging)."""

    winner = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_kept")
    loser = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="merges_absorbed")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merged_at = models.DateTimeField(_("merged"), default=timezone.now)
    choices = models.JSONField(_("field choices"), default=dict, blank=True)
    # {"winner_fields": {...before}, "merged_fields": {...after}, "moved": {provider: data}}
    snapshot = models.JSONField(default=dict)
    counts = models.JSONField(_("rows moved"), default=dict, blank=True)
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-merged_at", "-id"]
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")

    def __str__(self):
        return f"{self.loser_id} -> {self.winner_id}"


class DataSubjectRequest(models.Model):
    """A data-subject request carried out: an export of everything held, or an erasure."""

    class Kind(models.TextChoices):
        EXPORT = "export", _("Export")
        ERASE = "erase", _("Erasure")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="data_requests")
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    reason = models.TextField(_("reason"), blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    counts = models.JSONField(_("rows"), default=dict, blank=True)
    created_at = models.DateTimeField(_("when"), default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")

    def __str__(self):
        return f"{self.kind} {self.customer_id}"


class DataJob(models.Model):
    """One import or export of customers, run by Celery, with its progress, counts and files.

    An import commits its rows in batches and moves `processed_rows` forward in the same
    transaction, so a crash leaves every finished row whole and the job resumes where it stopped.
    """

    class Kind(models.TextChoices):
        IMPORT = "import", _("Import")
        EXPORT = "export", _("Export")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Waiting for mapping")
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        DONE = "done", _("Finished")
        FAILED = "failed", _("Failed")

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        XLSX = "xlsx", "XLSX"

    class OnMatch(models.TextChoices):
        UPDATE = "update", _("Update the existing customer")
        SKIP = "skip", _("Skip the row")
        CREATE = "create", _("Create a new customer anyway")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    fmt = models.CharField(_("format"), max_length=10, choices=Format.choices, default=Format.CSV)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="customer_data_jobs"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    file = models.FileField(_("file"), upload_to="customer-jobs/%Y/%m/", max_length=300, blank=True)
    file_name = models.CharField(_("file name"), max_length=255, blank=True)
    encoding = models.CharField(_("encoding"), max_length=30, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict, blank=True)
    on_match = models.CharField(
        _("when a row matches a customer"), max_length=10, choices=OnMatch.choices, default=OnMatch.UPDATE
    )
    row_choices = models.JSONField(default=dict, blank=True, help_text="Row number → on_match, per row.")
    description = models.CharField(_("filter"), max_length=500, blank=True)
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    source_ids = models.JSONField(default=list, blank=True, help_text="The customers an export takes out.")
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows done"), default=0)
    created_count = models.PositiveIntegerField(_("created"), default=0)
    updated_count = models.PositiveIntegerField(_("updated"), default=0)
    skipped_count = models.PositiveIntegerField(_("skipped"), default=0)
    failed_count = models.PositiveIntegerField(_("failed"), default=0)
    error_file = models.FileField(
        _("error file"), upload_to="customer-jobs/%Y/%m/", max_length=300, blank=True
    )
    result_file = models.FileField(
        _("exported file"), upload_to="customer-jobs/%Y/%m/", max_length=300, blank=True
    )
    error = models.TextField(_("error"), blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("customer import or export")
        verbose_name_plural = _("customer imports and exports")
        permissions = [("import_customers", _("Can import customer lists"))]
        indexes = [models.Index(fields=["kind", "-created_at"], name="datajob_kind_idx")]

    def __str__(self):
        return f"{self.get_kind_display()} {self.file_name or self.pk}"

    @property
    def is_active(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def percent(self) -> int:
        if not self.total_rows:
            return 100 if self.status == self.Status.DONE else 0
        return min(100, round(100 * self.processed_rows / self.total_rows))


class Segment(models.Model):
    """A reusable set of customers: a static list of chosen members, or rules evaluated when used
    (see customers/segments.py for the rule schema)."""

    class Kind(models.TextChoices):
        DYNAMIC = "dynamic", _("Dynamic (rules)")
        STATIC = "static", _("Static list")

    name = models.CharField(_("name"), max_length=200)
    description = models.CharField(_("description"), max_length=500, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.DYNAMIC)
    rules = models.JSONField(_("rules"), default=dict, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="segments",
    )
    team = models.ForeignKey(
        "crm.Team", verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    shared = models.BooleanField(
        _("shared"), default=False, help_text=_("Everyone may use a shared segment; only its owner edits it.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        indexes = [models.Index(fields=["owner", "name"], name="segment_owner_idx")]

    def __str__(self):
        return self.name

    @property
    def is_static(self):
        return self.kind == self.Kind.STATIC


class SegmentMember(models.Model):
    """A customer on a static list."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="segment_memberships")
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segmentmember_unique"),
        ]
        indexes = [models.Index(fields=["customer"], name="segmentmember_customer_idx")]

    def __str__(self):
        return f"{self.segment_id}: {self.customer_id}"
