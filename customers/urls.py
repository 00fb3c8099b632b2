from django.urls import path

from . import views

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
]
