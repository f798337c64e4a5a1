"""GET /api/v1/sites: the sites the token's agent serves."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.serializers import SiteSerializer
from chat.selectors.api import api_site, api_sites


class SiteList(APIView):
    """The agent's sites."""

    @extend_schema(operation_id="sites_list", responses=SiteSerializer(many=True), tags=["sites"])
    def get(self, request):
        """Every site the token's agent serves."""
        return Response(SiteSerializer(api_sites(user=request.user), many=True).data)


class SiteDetail(APIView):
    """One site."""

    @extend_schema(operation_id="sites_read", responses=SiteSerializer, tags=["sites"])
    def get(self, request, site_id: int):
        """A site the token's agent serves."""
        return Response(SiteSerializer(api_site(user=request.user, site_id=site_id)).data)
