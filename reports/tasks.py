"""Celery tasks of the reports app: thin wrappers around reports.scoring."""

from celery import shared_task

from . import scoring


@shared_task(name="reports.recompute_score", soft_time_limit=60, time_limit=90, ignore_result=True)
def recompute_score(customer_id, **kwargs) -> int:
    """Recompute one customer's lead score, a little after their timeline changed."""
    return scoring.score_recompute_now(int(customer_id))


@shared_task(name="reports.recompute_all_scores", soft_time_limit=3000, time_limit=3600, ignore_result=True)
def recompute_all_scores(**kwargs) -> int:
    """Nightly: every customer's lead score, so that old engagement fades."""
    return scoring.scores_recompute_all()
