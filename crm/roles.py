"""The four roles are Django groups; these helpers answer role questions in one place."""

from django.utils.translation import gettext_lazy as _

AGENT = "Agent"
SALES_REP = "Sales rep"
MANAGER = "Manager"
ADMIN = "Admin"
ROLES = [AGENT, SALES_REP, MANAGER, ADMIN]
ROLE_LABELS = {AGENT: _("Agent"), SALES_REP: _("Sales rep"), MANAGER: _("Manager"), ADMIN: _("Admin")}


def user_role(user):
    """The user's role name, the highest one if they hold several, or None."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return ADMIN
    if not hasattr(user, "_crm_role"):
        names = set(user.groups.values_list("name", flat=True))
        user._crm_role = next((role for role in reversed(ROLES) if role in names), None)
    return user._crm_role


def is_admin(user):
    return user.is_authenticated and (user.is_superuser or user_role(user) == ADMIN)


def is_manager(user):
    return user_role(user) == MANAGER


def is_agent(user):
    return user_role(user) == AGENT
