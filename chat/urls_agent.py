"""Routes of the agent desk (mounted at /agent/)."""

urlpatterns = []
