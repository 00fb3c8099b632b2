from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SocialConfig(AppConfig):
    name = "social"

    def ready(self):
        from customers.panels import Panel, register

        from . import selectors

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
