"""The admin area inside the app: users, teams, audit."""

from django.urls import path

from . import manage_views

app_name = "manage"
urlpatterns = [
    path("users/", manage_views.user_list, name="users"),
]
