import factory
from django.utils import timezone

from tests.factories import CustomerFactory
from tickets.models import (
    AssignmentRule,
    BusinessCalendar,
    Category,
    EscalationRule,
    SlaPolicy,
    Ticket,
    TicketComment,
)


class CategoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Category
        django_get_or_create = ("name", "parent")

    name = factory.Sequence(lambda n: f"Category {n}")
    parent = None


class CalendarFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = BusinessCalendar

    name = factory.Sequence(lambda n: f"Calendar {n}")
    time_zone = "Asia/Taipei"
    hours = factory.LazyFunction(lambda: {str(day): [["09:00", "18:00"]] for day in range(1, 6)})


class SlaPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaPolicy

    name = factory.Sequence(lambda n: f"Policy {n}")
    first_response_minutes = 120
    resolution_minutes = 540
    warning_minutes = 30


class EscalationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = EscalationRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    level = 1
    trigger = EscalationRule.Trigger.BREACH
    action = EscalationRule.Action.NOTIFY_MANAGER


class AssignmentRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AssignmentRule

    strategy = AssignmentRule.Strategy.ROUND_ROBIN


class TicketFactory(factory.django.DjangoModelFactory):
    """For building queues in tests; application code opens tickets with services.ticket_create()."""

    class Meta:
        model = Ticket
        skip_postgeneration_save = True

    customer = factory.SubFactory(CustomerFactory)
    subject = factory.Sequence(lambda n: f"Ticket subject {n}")
    number = factory.Sequence(lambda n: 900000 + n)
    created_at = factory.LazyFunction(timezone.now)
    updated_at = factory.LazyAttribute(lambda t: t.created_at)

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if extracted:
            from tickets.services.tickets import tags_from_names

            self.tags.set(tags_from_names(extracted))


class CommentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TicketComment

    ticket = factory.SubFactory(TicketFactory)
    body = factory.Sequence(lambda n: f"Comment {n}")
    created_at = factory.LazyFunction(timezone.now)
