from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SocialConfig(AppConfig):
    name = "social"

    def ready(self):
        from customers.panels import Panel, register

        from . import broadcast_tasks, inbox_tasks  # noqa: F401 - the worker learns the inbox's tasks

        register(
            Panel(
                key="conversations",
                title=_("Conversations"),
                template="social/panels/conversations.html",
                order=50,
                icon="chat-dots",
            )
        )
