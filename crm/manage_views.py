from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import render

from . import roles


def admin_required(view):
    def wrapper(request, *args, **kwargs):
        if not roles.is_admin(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


@admin_required
def user_list(request):
    users = get_user_model().objects.select_related("team").prefetch_related("groups").order_by("username")
    return render(request, "crm/manage/user_list.html", {"users": users})
