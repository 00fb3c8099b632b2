"""Celery tasks of the customers app (duplicates, imports, exports): thin wrappers around its services."""

import logging

from celery import shared_task

from . import dedup

logger = logging.getLogger(__name__)


@shared_task(
    name="customers.duplicates_scan", soft_time_limit=50 * 60, time_limit=55 * 60, ignore_result=True
)
def duplicates_scan(**kwargs) -> dict:
    """Nightly (beat) and on demand from the duplicates page: refresh the candidate pairs."""
    counts = dedup.duplicates_scan()
    logger.info("duplicate scan: %s", counts)
    return counts


@shared_task(name="customers.merge_sweep", soft_time_limit=240, time_limit=300, ignore_result=True)
def merge_sweep(**kwargs) -> int:
    """Every few minutes (beat): rows that reached a merged-away record after its merge move on."""
    from . import merging

    return merging.customer_merge_sweep()


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
