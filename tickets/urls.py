from django.urls import path

from . import csat_views, mail_views, settings_views, views

app_name = "tickets"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("new/", views.ticket_create, name="create"),
    path("bulk/", views.bulk, name="bulk"),
    path("filters/", views.filter_save, name="filter-save"),
    path("filters/<int:pk>/delete/", views.filter_delete, name="filter-delete"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment"),
    path("<int:pk>/", views.ticket_detail, name="detail"),
    path("<int:pk>/reply/", views.ticket_reply, name="reply"),
    path("<int:pk>/update/", views.ticket_update, name="update"),
    path("<int:pk>/take/", views.ticket_take, name="take"),
    path("<int:pk>/auto-assign/", views.ticket_auto_assign, name="auto-assign"),
    path("<int:pk>/follow/", views.ticket_follow, name="follow"),
    path("<int:pk>/merge/", views.ticket_merge, name="merge"),
    path("survey/<str:token>/", csat_views.survey, name="csat"),
    path("reports/csat/", csat_views.report, name="csat-report"),
    path("settings/", settings_views.settings_list, name="settings"),
    path("settings/mailboxes/", mail_views.mailbox_list, name="mailboxes"),
    path("settings/mailboxes/new/", mail_views.mailbox_edit, name="mailbox-create"),
    path("settings/mailboxes/<int:pk>/", mail_views.mailbox_edit, name="mailbox-edit"),
    path("settings/mailboxes/<int:pk>/test/", mail_views.mailbox_test, name="mailbox-test"),
    path("settings/mailboxes/<int:pk>/check/", mail_views.mailbox_check, name="mailbox-check"),
    path("settings/mailboxes/<int:pk>/delete/", mail_views.mailbox_remove, name="mailbox-delete"),
    path("settings/transitions/", settings_views.transitions, name="settings-transitions"),
    path("settings/calendars/<int:pk>/holidays/", settings_views.holiday_add, name="holiday-add"),
    path("settings/holidays/<int:pk>/delete/", settings_views.holiday_delete, name="holiday-delete"),
    path("settings/<slug:section>/", settings_views.settings_list, name="settings-section"),
    path("settings/<slug:section>/new/", settings_views.settings_edit, name="settings-create"),
    path("settings/<slug:section>/<int:pk>/", settings_views.settings_edit, name="settings-edit"),
    path("settings/<slug:section>/<int:pk>/delete/", settings_views.settings_delete, name="settings-delete"),
]
