"""Response headers for the pages staff sign in to: the desk's Content-Security-Policy."""

from __future__ import annotations

from django.conf import settings
from django.utils.deprecation import MiddlewareMixin

# The desk (and its reports and JSON reads), the sign-in page and the admin: an agent or an admin is signed in
# there, so a script slipped into one of them acts with their rights. The widget frame, the help center and the
# self-check set policies of their own; the widget's JSON API is read by other sites' pages and needs none.
DESK_PATH_PREFIXES = ("/agent/", "/accounts/", "/admin/")


class DeskContentSecurityPolicyMiddleware(MiddlewareMixin):
    """Sets settings.PARLEY_DESK_CSP on the desk, the sign-in page and the admin, unless the view set its own."""

    def process_response(self, request, response):
        """Called with each response; an empty PARLEY_DESK_CSP sets nothing."""
        policy = settings.PARLEY_DESK_CSP
        if policy and request.path_info.startswith(DESK_PATH_PREFIXES) and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
