from conversations.routing import websocket_urlpatterns as conversation_ws

websocket_urlpatterns = [*conversation_ws]
