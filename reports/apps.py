from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _score_panel(request, customer):
    from . import scoring
    from .models import CustomerScore

    score = CustomerScore.objects.filter(customer=customer).first()
    return {"score": score, "reasons": scoring.reasons_display(score.reasons) if score else []}


class ReportsConfig(AppConfig):
    name = "reports"
    verbose_name = _("Reports")

    def ready(self):
        from customers.panels import Panel, register

        register(
            Panel(
                key="lead-score",
                title=_("Lead score"),
                template="reports/panels/lead_score.html",
                context=_score_panel,
                order=15,
                icon="speedometer2",
            )
        )
