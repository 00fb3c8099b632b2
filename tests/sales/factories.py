import datetime as dt
from decimal import Decimal

import factory
from django.utils import timezone

from sales.models import Cadence, Deal, LostReason, Pipeline, Product, Stage, Task
from tests.factories import CustomerFactory


def default_pipeline() -> Pipeline:
    """The "Sales" pipeline the data migration creates (New 10% … Won, Lost)."""
    return Pipeline.objects.get(name="Sales")


def stage(name: str, pipeline: Pipeline | None = None) -> Stage:
    return (pipeline or default_pipeline()).stages.get(name=name)


class PipelineFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pipeline
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Pipeline {n}")


class StageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stage

    pipeline = factory.SubFactory(PipelineFactory)
    name = factory.Sequence(lambda n: f"Stage {n}")
    order = factory.Sequence(lambda n: n)
    probability = 50


class LostReasonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LostReason
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Reason {n}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    name = factory.Sequence(lambda n: f"Product {n}")
    unit_price = Decimal("1000")


class DealFactory(factory.django.DjangoModelFactory):
    """For arranging tests; application code creates deals through sales.services.deal_create."""

    class Meta:
        model = Deal
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    title = factory.Sequence(lambda n: f"Deal {n}")
    amount = Decimal("10000")
    currency = "TWD"
    stage = factory.LazyFunction(lambda: stage("New"))
    pipeline = factory.LazyAttribute(lambda d: d.stage.pipeline)
    status = factory.LazyAttribute(
        lambda d: "won" if d.stage.is_won else "lost" if d.stage.is_lost else "open"
    )
    closed_at = factory.LazyAttribute(lambda d: timezone.now() if d.status != "open" else None)
    owner = factory.LazyAttribute(lambda d: d.customer.owner)
    team = factory.LazyAttribute(lambda d: d.owner.team if d.owner else None)


class CadenceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cadence
        django_get_or_create = ("name",)

    name = "Call again in 3 days if no answer"
    interval_days = 3
    repeat = Cadence.Repeat.NO_ANSWER
    max_attempts = 3


class TaskFactory(factory.django.DjangoModelFactory):
    """For arranging tests; application code creates tasks through sales.services.task_create."""

    class Meta:
        model = Task

    title = factory.Sequence(lambda n: f"Task {n}")
    due_at = factory.LazyFunction(lambda: timezone.now() + dt.timedelta(hours=1))
    remind_at = factory.LazyAttribute(lambda t: t.due_at)
    assignee = None
    team = factory.LazyAttribute(lambda t: t.assignee.team if t.assignee else None)
