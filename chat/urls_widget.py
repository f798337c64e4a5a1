"""Routes of the customer side: the demo shop page, the widget frame and its public status."""

from django.urls import path

from chat.views import pages, widget_api, widget_frame

urlpatterns = [
    path("", pages.home, name="home"),
    path("widget/<str:site_key>/", widget_frame.widget_frame, name="widget-frame"),
    path("api/widget/<str:site_key>/status", widget_api.site_status, name="widget-status"),
]
