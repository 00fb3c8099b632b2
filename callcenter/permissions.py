from django.db.models import Q

from crm import roles

from .models import Call


def calls_visible_to(user, queryset=None):
    """Admins see every call, managers their team's, everyone else the calls they took or that rang for them."""
    queryset = Call.objects.all() if queryset is None else queryset
    if not user.is_authenticated or not user.is_active or not user.has_perm("callcenter.view_call"):
        return queryset.none()
    role = roles.user_role(user)
    if role == roles.ADMIN:
        return queryset
    mine = Q(agent=user)
    if user.extension:
        mine |= Q(extension=user.extension)
    if role == roles.MANAGER:
        team_ids = list(user.managed_teams.values_list("id", flat=True)) + (
            [user.team_id] if user.team_id else []
        )
        return queryset.filter(mine | Q(agent__team_id__in=team_ids) | Q(customer__team_id__in=team_ids))
    return queryset.filter(mine)
