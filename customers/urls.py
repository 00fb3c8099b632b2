from django.urls import path

from . import data_views, job_views, views

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
    path("duplicates/", data_views.duplicate_list, name="duplicates"),
    path("duplicates/scan/", data_views.duplicate_scan, name="duplicates-scan"),
    path("duplicates/<int:pk>/dismiss/", data_views.duplicate_dismiss, name="duplicate-dismiss"),
    path("<int:pk>/merge/", data_views.merge_pick, name="merge-pick"),
    path("merge/<int:first>/<int:second>/", data_views.merge_compare, name="merge"),
    path("merges/<int:pk>/undo/", data_views.merge_undo, name="merge-undo"),
    path("<int:pk>/privacy/", data_views.privacy, name="privacy"),
    path("<int:pk>/privacy/export/", data_views.privacy_export, name="privacy-export"),
    path("<int:pk>/privacy/erase/", data_views.privacy_erase, name="privacy-erase"),
    path("<int:pk>/privacy/consent/", data_views.privacy_consent, name="privacy-consent"),
    path("privacy/retention/", data_views.retention, name="retention"),
    path("import/", job_views.import_upload, name="import"),
    path("import/<int:pk>/", job_views.import_map, name="import-map"),
    path("import/<int:pk>/preview/", job_views.import_preview, name="import-preview"),
    path("export/", job_views.export_start, name="export"),
    path("jobs/", job_views.job_list, name="jobs"),
    path("jobs/<int:pk>/", job_views.job_detail, name="job"),
    path("jobs/<int:pk>/errors/", job_views.job_file, {"which": "errors"}, name="job-errors"),
    path("jobs/<int:pk>/download/", job_views.job_file, {"which": "download"}, name="job-download"),
    path("jobs/<int:pk>/resume/", job_views.job_resume, name="job-resume"),
]
