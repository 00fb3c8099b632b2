from django.urls import path

from . import data_views, views

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
    path("import/", data_views.import_upload, name="import"),
    path("import/<int:pk>/", data_views.import_map, name="import-map"),
    path("import/<int:pk>/preview/", data_views.import_preview, name="import-preview"),
    path("export/", data_views.export_start, name="export"),
    path("jobs/", data_views.job_list, name="jobs"),
    path("jobs/<int:pk>/", data_views.job_detail, name="job"),
    path("jobs/<int:pk>/errors/", data_views.job_file, {"which": "errors"}, name="job-errors"),
    path("jobs/<int:pk>/download/", data_views.job_file, {"which": "download"}, name="job-download"),
    path("jobs/<int:pk>/resume/", data_views.job_resume, name="job-resume"),
]
