"""Celery tasks of the sales app: thin wrappers around sales.services."""

from celery import shared_task

from . import services


@shared_task(name="sales.send_due_reminders", soft_time_limit=240, time_limit=300, ignore_result=True)
def send_due_reminders(**kwargs) -> int:
    """Run by beat every minute: remind assignees of the follow-ups now due (each reminder once)."""
    return services.reminders_send_due()


@shared_task(name="sales.forecast_snapshot", soft_time_limit=240, time_limit=300, ignore_result=True)
def forecast_snapshot(**kwargs) -> int:
    """Run by beat a few times a day: freeze this month's forecast per rep once (later runs add only new reps)."""
    from . import forecast

    return forecast.forecast_snapshot_take()


@shared_task(name="sales.import_orders", soft_time_limit=1700, time_limit=1800, ignore_result=True)
def import_orders(import_id, **kwargs) -> None:
    """Import a large CSV of orders queued by the import page; safe to run twice (it claims the job)."""
    from .orders import orders_import_run

    orders_import_run(import_id=int(import_id))
