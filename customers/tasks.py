"""Celery tasks of the customers app: thin wrappers around its services."""

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
