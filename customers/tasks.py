"""Thin Celery tasks of the customers app: imports and exports."""

from celery import shared_task


@shared_task(name="customers.import_customers", acks_late=True, time_limit=3600, soft_time_limit=3500)
def import_customers_task(job_id=None, **kwargs):
    """Idempotent: the import goes on after its last committed batch, so a redelivery is harmless."""
    from .imports.runner import import_run

    import_run(job_id)


@shared_task(name="customers.export_customers", acks_late=True, time_limit=3600, soft_time_limit=3500)
def export_customers_task(job_id=None, **kwargs):
    """Idempotent: an export writes its file again from its snapshot of customer ids."""
    from .exports import export_run

    export_run(job_id)


@shared_task(name="customers.data_job_files_purge", time_limit=600, soft_time_limit=540)
def data_job_files_purge_task(**kwargs):
    """Daily: remove import and export files older than CUSTOMERS_DATA_JOB_FILES_DAYS."""
    from django.conf import settings

    from .imports import data_job_files_purge

    return data_job_files_purge(older_than_days=settings.CUSTOMERS_DATA_JOB_FILES_DAYS)
