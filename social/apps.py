from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def conversations_panel_context(request, customer):
    from .views_inbox import customer_conversations_panel

    return customer_conversations_panel(request, customer)


class SocialConfig(AppConfig):
    name = "social"

    def ready(self):
        from customers.panels import Panel, register
        from tickets.services import tickets as ticket_services

        from . import broadcast_tasks, inbox, inbox_tasks  # noqa: F401 - the worker learns the inbox's tasks

        if inbox.ticket_reply_relay not in ticket_services.PUBLIC_REPLY_LISTENERS:
            ticket_services.PUBLIC_REPLY_LISTENERS.append(inbox.ticket_reply_relay)

        register(
            Panel(
                key="conversations",
                title=_("Conversations"),
                template="social/panels/conversations.html",
                context=conversations_panel_context,
                order=50,
                icon="chat-dots",
            )
        )
