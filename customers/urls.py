from django.urls import path

from . import segment_views, views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("lookup/", views.phone_lookup, name="lookup"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/notes/", views.note_add, name="note-add"),
    path("<int:pk>/reveal/", views.contacts_reveal, name="reveal"),
    path("<int:pk>/contacts/", views.contact_add, name="contact-add"),
    path("<int:pk>/contacts/<int:contact_pk>/remove/", views.contact_remove, name="contact-remove"),
    path("<int:pk>/consents/", views.consent_add, name="consent-add"),
    path("<int:pk>/share/", views.customer_share, name="share"),
    path("segments/", segment_views.segment_list, name="segments"),
    path("segments/new/", segment_views.segment_create, name="segment-create"),
    path("segments/preview/", segment_views.segment_preview, name="segment-preview"),
    path("segments/from-customers/", segment_views.segment_from_customers, name="segment-from-customers"),
    path("segments/<int:pk>/", segment_views.segment_detail, name="segment-detail"),
    path("segments/<int:pk>/edit/", segment_views.segment_edit, name="segment-edit"),
    path("segments/<int:pk>/count/", segment_views.segment_count, name="segment-count"),
    path("segments/<int:pk>/members/add/", segment_views.segment_members_add, name="segment-members-add"),
    path(
        "segments/<int:pk>/members/remove/",
        segment_views.segment_members_remove,
        name="segment-members-remove",
    ),
    path("segments/<int:pk>/freeze/", segment_views.segment_freeze, name="segment-freeze"),
    path("segments/<int:pk>/delete/", segment_views.segment_delete, name="segment-delete"),
]
