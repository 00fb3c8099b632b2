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

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        permissions = [
            ("view_contact_details", _("Can see unmasked phone numbers and e-mail addresses")),
            ("export_customers", _("Can export customer lists")),
            ("share_customer", _("Can share a customer with another user")),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="customer_owner_idx"),
            models.Index(fields=["team", "-created_at"], name="customer_team_idx"),
            models.Index(fields=["name"], name="customer_name_idx"),
        ]

    def __str__(self):
        return self.name

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
