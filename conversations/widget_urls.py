"""The widget's own pages, mounted at the site root (see widget_views)."""

from django.urls import path

from . import widget_views

app_name = "widget"
urlpatterns = [
    path("widget.js", widget_views.loader_js, name="loader"),
    path("widget/frame/", widget_views.frame, name="frame"),
    path("widget/config/", widget_views.site_config, name="config"),
]
