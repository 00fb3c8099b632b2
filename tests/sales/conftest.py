import pytest

from tests.factories import CustomerFactory

from .factories import DealFactory


@pytest.fixture
def deal(customer, rep):
    """An open deal of the rep's customer 王小明, in "New"."""
    return DealFactory(customer=customer, owner=rep, title="ERP rollout", amount=120000)


@pytest.fixture
def hidden_deal(other_team):
    """A deal of another team's customer: only admins (and whoever it is shared with) may see it."""
    from crm import roles
    from tests.factories import UserFactory

    owner = UserFactory(username="outsider", role=roles.SALES_REP, team=other_team)
    return DealFactory(
        customer=CustomerFactory(name="Hidden Ltd", owner=owner), owner=owner, title="Secret deal"
    )
