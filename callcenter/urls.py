from django.urls import path

from . import views

app_name = "callcenter"
urlpatterns = [
    path("stream/", views.stream, name="stream"),
    path("calls/<int:pk>/wrap-up/", views.wrap_up, name="wrap-up"),
    path("calls/<int:pk>/customer/", views.set_customer, name="set-customer"),
    path("presence/", views.presence, name="presence"),
    path("agents/", views.agents, name="agents"),
    path("dial/", views.dial, name="dial"),
]
