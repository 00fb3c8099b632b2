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
    path("call-lists/", views.call_lists, name="call-lists"),
    path("call-lists/new/", views.call_list_create, name="call-list-create"),
    path("call-lists/<int:pk>/", views.call_list_detail, name="call-list-detail"),
    path("call-lists/<int:pk>/assign/", views.call_list_assign, name="call-list-assign"),
    path("call-lists/<int:pk>/close/", views.call_list_close, name="call-list-close"),
    path("call-lists/<int:pk>/work/", views.call_list_work, name="call-list-work"),
    path("call-lists/<int:pk>/next/", views.call_list_next, name="call-list-next"),
    path(
        "call-lists/entries/<int:pk>/complete/",
        views.call_list_entry_complete,
        name="call-list-entry-complete",
    ),
]
