import factory
from django.contrib.auth.models import Group
from django.utils import timezone

from crm.models import Team, User
from customers.models import ContactPoint, Customer, Interaction, Tag
from customers.normalise import phone_normalise


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    first_name = factory.Faker("first_name")
    team = factory.SubFactory(TeamFactory)
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def role(self, create, extracted, **kwargs):
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))
        if create:
            self.save()


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"tag{n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer
        skip_postgeneration_save = True

    name = factory.Faker("name")
    owner = None
    team = factory.LazyAttribute(lambda c: c.owner.team if c.owner else None)

    @factory.post_generation
    def phones(self, create, extracted, **kwargs):
        for index, raw in enumerate(extracted or []):
            e164, extension = phone_normalise(raw)
            ContactPoint.objects.create(
                customer=self,
                kind="phone",
                value=raw,
                normalised=e164,
                extension=extension,
                is_primary=index == 0,
            )

    @factory.post_generation
    def emails(self, create, extracted, **kwargs):
        for index, raw in enumerate(extracted or []):
            ContactPoint.objects.create(
                customer=self, kind="email", value=raw, normalised=raw.lower(), is_primary=index == 0
            )

    @factory.post_generation
    def tags(self, create, extracted, **kwargs):
        if extracted:
            self.tags.set([TagFactory(name=name) if isinstance(name, str) else name for name in extracted])


class InteractionFactory(factory.django.DjangoModelFactory):
    """For building history in tests; application code writes through record_interaction()."""

    class Meta:
        model = Interaction

    customer = factory.SubFactory(CustomerFactory)
    kind = "note"
    channel = "crm"
    summary = factory.Sequence(lambda n: f"Interaction {n}")
    occurred_at = factory.LazyFunction(timezone.now)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Keep Customer.last_interaction_at as record_interaction() would.
        from customers.services import last_interaction_advance

        interaction = super()._create(model_class, *args, **kwargs)
        last_interaction_advance(customer_ids=[interaction.customer_id], at=interaction.occurred_at)
        return interaction
