from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CustomersConfig(AppConfig):
    name = "customers"
    verbose_name = _("Customers")

    def ready(self):
        from auditlog.registry import auditlog

        from . import customer_data, models

        customer_data.register_all()

        auditlog.register(models.Customer, m2m_fields={"tags"})
        auditlog.register(models.ContactPoint)
        auditlog.register(models.SocialIdentity)
        auditlog.register(models.Consent)
        auditlog.register(models.Tag)
