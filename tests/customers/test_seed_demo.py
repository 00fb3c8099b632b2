import io

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from crm import roles
from crm.models import Team, User
from customers import selectors, services
from customers.models import Consent, ContactPoint, Customer, Interaction, SocialIdentity, Tag
from customers.normalise import phone_normalise
from customers.permissions import customers_visible_to

pytestmark = pytest.mark.django_db


def seed(*args) -> str:
    out = io.StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def snapshot():
    return {
        model.__name__: model.objects.count()
        for model in (User, Team, Tag, Customer, ContactPoint, Consent, SocialIdentity, Interaction)
    }


def test_seed_demo_twice_creates_one_login_per_role_and_no_duplicates():
    # given an empty database
    # when the demo is seeded twice
    first = seed()
    after_first = snapshot()
    second = seed()

    # then the second run changed nothing and said so
    assert snapshot() == after_first
    assert "already there" in second
    # and every role has a demo user whose printed password logs in
    for username, role in [
        ("agent", roles.AGENT),
        ("rep", roles.SALES_REP),
        ("manager", roles.MANAGER),
        ("admin", roles.ADMIN),
    ]:
        user = User.objects.get(username=username)
        assert roles.user_role(user) == role
        password = f"demo-{username}-2026"
        assert password in first and password in second
        assert Client().login(username=username, password=password)
    assert User.objects.get(username="agent").extension == "101"
    assert User.objects.filter(groups__name=roles.SALES_REP).count() >= 2
    taipei, shanghai = Team.objects.get(name="台北業務組"), Team.objects.get(name="上海销售组")
    assert taipei.manager.username == "manager" and shanghai.manager is not None


def test_seed_demo_customers_are_realistic_and_went_through_the_services():
    seed()

    customers = Customer.objects.all()
    assert 60 <= customers.count() <= 150
    assert customers.filter(kind=Customer.Kind.ORGANISATION, members__isnull=False).exists()
    normalised = set(
        ContactPoint.objects.filter(kind=ContactPoint.Kind.PHONE).values_list("normalised", flat=True)
    )
    assert any(n.startswith("+886") for n in normalised) and any(n.startswith("+86") for n in normalised)
    assert ContactPoint.objects.filter(value__startswith="(02)").exclude(extension="").exists()
    assert Consent.objects.filter(granted=True).exists() and Consent.objects.filter(granted=False).exists()
    assert set(SocialIdentity.objects.values_list("provider", flat=True)) == {"line", "wechat"}
    # every customer's history starts with the entry customer_create writes
    assert Interaction.objects.filter(kind=Interaction.Kind.SYSTEM).count() == customers.count()

    # the well-known customer is found by the number in any format and has a long, paged history
    rep = User.objects.get(username="rep")
    (wang,) = services.phone_lookup(user=rep, number="+886 912 345 678")
    assert wang.name == "王小明"
    assert wang.interactions.count() >= 60
    assert selectors.timeline_page(customer=wang).next_cursor is not None


def test_bulk_path_adds_customers_the_normal_pages_show(login):
    # given the demo
    seed()
    before = Customer.objects.count()

    # when 200 generated customers are asked for, twice
    output = seed("--customers", "200")
    seed("--customers", "200")

    # then exactly 200 were added, with contacts, tags and a timeline each
    assert "Generated 200 customers" in output
    assert Customer.objects.count() == before + 200
    generated = Customer.objects.filter(custom_attributes__generated_by="seed_demo")
    assert generated.count() == 200
    assert not generated.filter(contact_points__isnull=True).exists()
    assert not generated.filter(interactions__isnull=True).exists()
    assert Interaction.objects.filter(customer__in=generated).count() >= 400
    assert Customer.tags.through.objects.filter(customer__in=generated).exists()
    for point in ContactPoint.objects.filter(customer__in=generated, kind=ContactPoint.Kind.PHONE):
        assert phone_normalise(point.value) == (point.normalised, point.extension)

    # and the ordinary write path still works after the ids were reserved by hand
    customer = services.customer_create(
        actor=None, name="新客戶", contacts=services.ContactInput(phones=["0911-000-111"])
    )
    assert customer.pk > generated.order_by("-pk").first().pk

    # and the pages show the generated customers
    client = login(User.objects.get(username="admin"))
    person = generated.filter(kind=Customer.Kind.PERSON, contact_points__kind="phone").order_by("pk").first()
    entry = person.interactions.order_by("-occurred_at", "-id").first()
    detail = client.get(reverse("customers:detail", args=[person.pk]))
    assert detail.status_code == 200
    assert person.name in detail.content.decode() and entry.summary in detail.content.decode()
    listing = client.get(reverse("customers:list"), {"q": person.name})
    assert listing.status_code == 200 and person.name in listing.content.decode()
    phone = person.contact_points.filter(kind="phone", is_primary=True).get()
    lookup = client.get(reverse("customers:lookup"), {"number": phone.value})
    assert lookup.status_code in (200, 302)
    if lookup.status_code == 302:
        assert lookup["Location"] == reverse("customers:detail", args=[person.pk])
    else:
        assert person.name in lookup.content.decode()


@pytest.mark.parametrize(
    ("username", "probed"),
    [("admin", None), ("rep", None), ("rep", 50)],
    ids=["admin", "rep-sorting-matches", "rep-walking-by-date"],
)
def test_short_name_searches_on_seeded_data_find_exactly_what_like_finds(monkeypatch, username, probed):
    # given the demo and a few hundred generated customers
    seed("--customers", "300")
    if probed:
        monkeypatch.setattr(selectors, "PROBED_CUSTOMERS", probed)
    user = User.objects.get(username=username)

    for q in ["王", "陳", "张", "小明", "雅婷", "婷瑋", "Li", "a", "科技", "Chen"]:
        # when the rep or admin searches by one, two or more characters of a name
        found = [customer.pk for customer in selectors.customer_list(user=user, q=q)]

        # then the list is what a plain case-insensitive LIKE gives, newest first
        expected = list(
            customers_visible_to(user)
            .filter(name__icontains=q)
            .order_by("-created_at", "-id")
            .values_list("pk", flat=True)
        )
        assert found == expected, q
