import pytest
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.operations import RunPython
from django.test import Client

from crm import roles

from .factories import CustomerFactory, TeamFactory, UserFactory
from .mail_sink import smtp_sink  # noqa: F401 - a fixture for every test that sends e-mail


@pytest.fixture
def team(db):
    return TeamFactory(name="Taipei sales")


@pytest.fixture
def other_team(db):
    return TeamFactory(name="Shanghai sales")


@pytest.fixture
def agent(team):
    return UserFactory(username="agent", role=roles.AGENT, team=team, extension="101")


@pytest.fixture
def rep(team):
    return UserFactory(username="rep", role=roles.SALES_REP, team=team)


@pytest.fixture
def other_rep(team):
    return UserFactory(username="other-rep", role=roles.SALES_REP, team=team)


@pytest.fixture
def manager(team):
    user = UserFactory(username="manager", role=roles.MANAGER, team=team)
    team.manager = user
    team.save()
    return user


@pytest.fixture
def admin_user(team):
    return UserFactory(username="admin", role=roles.ADMIN, team=team)


@pytest.fixture
def users(agent, rep, manager, admin_user):
    """One user per role, keyed by role name."""
    return {roles.AGENT: agent, roles.SALES_REP: rep, roles.MANAGER: manager, roles.ADMIN: admin_user}


@pytest.fixture
def login():
    """A test client logged in as the given user."""

    def make(user):
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def customer(rep):
    return CustomerFactory(
        name="王小明", owner=rep, phones=["0912-345-678"], emails=["wang@example.com"], tags=["VIP"]
    )


# Data migrations whose rows (roles, dispositions) the tests rely on.
SEED_MIGRATIONS = [
    ("crm", "0002_roles"),
    ("callcenter", "0002_roles_and_dispositions"),
    ("callcenter", "0004_call_list_roles"),
    ("sales", "0002_roles_and_defaults"),
    ("sales", "0004_order_and_assignment_roles"),
    ("sales", "0004_quote_forecast_roles"),
    ("tickets", "0002_roles_and_defaults"),
    ("social", "0051_inbox_roles"),
    ("customers", "0007_merge_and_privacy_roles"),
    ("customers", "0007_import_role_permission"),
    ("customers", "0007_segment_roles"),
    ("tickets", "0007_knowledge_base_search_and_roles"),
]


@pytest.fixture
def seed_data(transactional_db):
    """Put back what the data migrations created: a transactional test's flush removes it.

    pytest-django runs transactional tests after all the others, so only they need this.
    """
    loader = MigrationLoader(None, ignore_no_migrations=True)
    for app_label, name in SEED_MIGRATIONS:
        state = loader.project_state((app_label, name))
        for operation in loader.get_migration(app_label, name).operations:
            if isinstance(operation, RunPython):
                operation.code(state.apps, None)
