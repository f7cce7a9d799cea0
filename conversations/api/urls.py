"""``/api/v1/``: the REST API for agents and API clients (docs/protocol.md)."""

from django.urls import path

from accounts.api import TokenObtainApi, TokenRefreshApi

from . import views

app_name = "api"
urlpatterns = [
    path("auth/token/", TokenObtainApi.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshApi.as_view(), name="token-refresh"),
    path("conversations", views.ConversationListCreateApi.as_view(), name="conversation-list"),
    path("conversations/<int:conversation_id>", views.ConversationDetailApi.as_view(), name="conversation-detail"),
    path(
        "conversations/<int:conversation_id>/messages",
        views.ConversationMessagesApi.as_view(),
        name="conversation-messages",
    ),
    path("conversations/<int:conversation_id>/read", views.ConversationReadApi.as_view(), name="conversation-read"),
    path("conversations/<int:conversation_id>/close", views.ConversationCloseApi.as_view(), name="conversation-close"),
    path("unread-count", views.UnreadCountApi.as_view(), name="unread-count"),
]
