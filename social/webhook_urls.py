"""Public, signature-checked webhook endpoints (mounted at /webhooks/)."""

from django.urls import path

from . import webhooks

urlpatterns = [
    path("line/<slug:key>/", webhooks.line_webhook, name="webhook-line"),
    path("wechat/<slug:key>/", webhooks.wechat_webhook, name="webhook-wechat"),
    path("wecom/<slug:key>/", webhooks.wecom_webhook, name="webhook-wecom"),
]
