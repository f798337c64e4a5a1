"""GET /api/v1/reports: the numbers of the desk's reports page, for a period and the agent's sites."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.serializers import ReportQuery
from chat.selectors import reports
from chat.selectors.api import api_site_ids

# The reports page's default period.
DEFAULT_DAYS = 30


class Report(APIView):
    """The report of a period."""

    @extend_schema(
        operation_id="reports_read", parameters=[ReportQuery], responses=OpenApiTypes.OBJECT, tags=["reports"]
    )
    def get(self, request):
        """Conversations started from `start` to `end` (days in UTC, both included; the last 30 days by default)."""
        query = ReportQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        given = query.validated_data
        end = given.get("end") or timezone.now().date()
        start = given.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        site_ids = api_site_ids(user=request.user, site_id=given.get("site"))
        report = reports.report_build(site_ids=site_ids, start=start, end=end, tz=timezone.get_current_timezone())
        return Response(dataclasses.asdict(report))
