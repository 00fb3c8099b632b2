from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def calls_panel_context(request, customer):
    from .models import Call

    calls = list(
        Call.objects.filter(customer=customer)
        .select_related("agent", "disposition")
        .order_by("-ringing_at")[:10]
    )
    return {"calls": calls}


class CallcenterConfig(AppConfig):
    name = "callcenter"
    verbose_name = _("Call centre")

    def ready(self):
        from auditlog.registry import auditlog

        from customers.panels import Panel, register

        from .customer_data import register_customer_data
        from .models import Disposition

        register_customer_data()

        register(
            Panel(
                key="calls",
                title=_("Calls"),
                template="callcenter/panels/calls.html",
                context=calls_panel_context,
                order=40,
                icon="telephone",
            )
        )
        auditlog.register(Disposition)
