from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from accounts.views import home
from conversations import views_transcript
from core import health

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", health.metrics, name="metrics"),
    path("admin/", admin.site.urls),
    path("", home, name="home"),
    path("i18n/", include("django.conf.urls.i18n")),
    # REST API for agents and API clients (JWT or session).
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("conversations.api.urls")),
    # Widget: HTTP API (session, polling fallback, uploads) and the loader/iframe.
    path("api/widget/v1/", include("conversations.api.widget_urls")),
    path("", include("conversations.widget_urls")),
    # Agent inbox (the transcript download sits beside it).
    path(
        "app/conversations/<int:conversation_id>/transcript.pdf",
        views_transcript.transcript_download,
        name="transcript_download",
    ),
    path("transcripts/<str:token>/", views_transcript.transcript_public, name="transcript_public"),
    path("app/", include("conversations.urls")),
    path("settings/campaigns/", include("campaigns.urls")),
    path("", include("core.urls")),
    path("", include("accounts.urls")),
]

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
