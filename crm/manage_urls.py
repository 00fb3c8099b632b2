"""The admin area inside the app: users, teams, audit."""

from django.urls import path

from . import manage_views

app_name = "manage"
urlpatterns = [
    path("users/", manage_views.user_list, name="users"),
    path("users/invite/", manage_views.user_invite, name="user-invite"),
    path("users/<int:pk>/", manage_views.user_edit, name="user-edit"),
    path("users/<int:pk>/deactivate/", manage_views.user_deactivate, name="user-deactivate"),
    path("users/<int:pk>/activate/", manage_views.user_activate, name="user-activate"),
    path("users/<int:pk>/resend-invitation/", manage_views.user_invitation_resend, name="user-resend-invite"),
    path("teams/", manage_views.team_list, name="teams"),
    path("teams/new/", manage_views.team_create, name="team-create"),
    path("teams/<int:pk>/", manage_views.team_edit, name="team-edit"),
    path("audit/", manage_views.audit, name="audit"),
]
