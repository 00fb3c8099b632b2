from django.urls import path

from . import views_inbox

app_name = "inbox"
urlpatterns = [
    path("", views_inbox.inbox_page, name="inbox"),
    path("stream/", views_inbox.stream, name="stream"),
    path("media/<str:token>/", views_inbox.media, name="media"),
    path("link/<str:token>/", views_inbox.link_page, name="link"),
    path("<int:pk>/", views_inbox.conversation_page, name="conversation"),
    path("<int:pk>/reply/", views_inbox.reply, name="reply"),
    path("<int:pk>/note/", views_inbox.note, name="note"),
    path("<int:pk>/assign/", views_inbox.assign, name="assign"),
    path("<int:pk>/status/", views_inbox.set_status, name="status"),
    path("<int:pk>/ticket/", views_inbox.ticket, name="ticket"),
    path("<int:pk>/bind/", views_inbox.bind, name="bind"),
    path("<int:pk>/link-invite/", views_inbox.link_invite, name="link-invite"),
    path("<int:pk>/messages/<int:message_pk>/retry/", views_inbox.retry, name="retry"),
]
