from django.urls import path  # noqa: F401

app_name = "widget_api"
urlpatterns: list = []
