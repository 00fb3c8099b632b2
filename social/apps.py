from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SocialConfig(AppConfig):
    name = "social"

    def ready(self):
        from auditlog.registry import auditlog

        from customers.panels import Panel, register

        from . import models, selectors

        # Who changed a channel or a rule, and when; credentials only as "changed" (never their value).
        auditlog.register(
            models.Channel, exclude_fields=["credentials_encrypted", "last_check_at", "last_check_ok"]
        )
        auditlog.register(models.AutoReplyRule, m2m_fields={"add_tags"})

        register(
            Panel(
                key="conversations",
                title=_("Conversations"),
                template="social/panels/conversations.html",
                order=50,
                icon="chat-dots",
                context=lambda request, customer: {
                    "conversations": selectors.customer_conversations(user=request.user, customer=customer)
                },
            )
        )
