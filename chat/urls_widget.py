"""Routes of the customer side: the demo shop page, the widget frame and its public status, the help center."""

from django.urls import path

from chat.views import help_center, pages, widget_api, widget_frame

urlpatterns = [
    path("", pages.home, name="home"),
    path("widget/<str:site_key>/", widget_frame.widget_frame, name="widget-frame"),
    path("api/widget/<str:site_key>/status", widget_api.site_status, name="widget-status"),
    path("help/<str:site_key>/", help_center.help_index, name="help-index"),
    path("help/<str:site_key>/<int:article_id>/", help_center.help_article, name="help-article"),
]
