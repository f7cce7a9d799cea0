"""``/api/widget/v1/``: the widget's HTTP API (docs/protocol.md)."""

from django.urls import path

from . import widget

app_name = "widget_api"
urlpatterns = [
    path("session", widget.WidgetSessionApi.as_view(), name="session"),
    path("identify", widget.WidgetIdentifyApi.as_view(), name="identify"),
    path("messages", widget.WidgetMessagesApi.as_view(), name="messages"),
    path("read", widget.WidgetReadApi.as_view(), name="read"),
    path("typing", widget.WidgetTypingApi.as_view(), name="typing"),
    path("page-view", widget.WidgetPageViewApi.as_view(), name="page-view"),
    path("uploads", widget.WidgetUploadApi.as_view(), name="uploads"),
    path("context", widget.WidgetContextApi.as_view(), name="context"),
    path("shutdown", widget.WidgetShutdownApi.as_view(), name="shutdown"),
]
