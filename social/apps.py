from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SocialConfig(AppConfig):
    name = "social"

    def ready(self):
        from auditlog.registry import auditlog

        from customers.panels import Panel, register
        from tickets.services import tickets as ticket_services

        from . import broadcast_tasks, broadcasts, inbox, inbox_tasks  # noqa: F401 - the worker learns the inbox's tasks
        from .inbox_customer_data import register_customer_data

        register_customer_data()
        from .csat_line import register_csat_channel

        register_csat_channel()  # survey links by LINE to followers; e-mail stays the fallback
        from django.db.models.signals import pre_delete

        from customers.models import Segment

        pre_delete.connect(
            broadcasts.segment_deleted, sender=Segment, dispatch_uid="social-broadcast-segment"
        )
        if inbox.ticket_reply_relay not in ticket_services.PUBLIC_REPLY_LISTENERS:
            ticket_services.PUBLIC_REPLY_LISTENERS.append(inbox.ticket_reply_relay)

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
                    "conversations": selectors.customer_conversations(user=request.user, customer=customer),
                    "live": bool(getattr(request, "scope", None)),  # the inbox's live stream needs ASGI
                },
            )
        )
