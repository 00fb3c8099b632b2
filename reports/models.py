from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class CustomerScore(models.Model):
    """A customer's lead score with the reasons for it; written only by reports.scoring.

    Kept beside the customer (not on it) so recomputing scores never locks or rewrites profiles; the
    index on `score` serves the Leads page sorted by score.
    """

    customer = models.OneToOneField(
        "customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="score"
    )
    score = models.PositiveSmallIntegerField(_("lead score"), default=0)
    reasons = models.JSONField(_("reasons"), default=list, blank=True)
    computed_at = models.DateTimeField(_("computed"), default=timezone.now)

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        indexes = [models.Index(fields=["-score", "customer"], name="customerscore_score_idx")]

    def __str__(self):
        return f"{self.customer_id}: {self.score}"
