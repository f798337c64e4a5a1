"""Any other path under /api/v1/: a 404 in the API's error shape, not Django's HTML page."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.views import APIView

from chat.api.errors import error


@extend_schema(exclude=True)
class Unknown(APIView):
    """A path under /api/v1/ that names no resource (an id that is not a number, a typo)."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = []

    def _not_found(self, request, *args, **kwargs):
        return error("not_found", "No such resource.", 404)

    get = post = put = patch = delete = head = options = _not_found
