from django.urls import path

from . import views_broadcasts

app_name = "broadcasts"
urlpatterns = [
    path("", views_broadcasts.broadcast_list, name="list"),
    path("new/", views_broadcasts.broadcast_create, name="create"),
    path("<int:pk>/", views_broadcasts.broadcast_detail, name="detail"),
    path("<int:pk>/<slug:action>/", views_broadcasts.broadcast_action, name="action"),
]
