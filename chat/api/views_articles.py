"""/api/v1/articles: the knowledge base the bot answers from; the bot's index follows every change."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.serializers import ArticleQuery, ArticleSerializer
from chat.selectors.agents import agent_site_ids
from chat.selectors.api import api_article, api_articles
from chat.services.articles import article_create, article_delete, article_update

TAGS = ["articles"]


class ArticleCursor(CursorPagination):
    """Oldest first."""

    ordering = ("id",)
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 100
    invalid_cursor_message = "The cursor is not valid; start again without one."


class ArticleList(APIView):
    """The agent's articles."""

    pagination_class = ArticleCursor

    @extend_schema(
        operation_id="articles_list",
        parameters=[
            ArticleQuery,
        ],
        responses=ArticleSerializer(many=True),
        tags=TAGS,
    )
    def get(self, request):
        """Articles of the agent's sites."""
        query = ArticleQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        site_id = query.validated_data.get("site")
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(api_articles(user=request.user, site_id=site_id), request, view=self)
        return paginator.get_paginated_response(ArticleSerializer(page, many=True).data)

    @extend_schema(
        operation_id="articles_create", request=ArticleSerializer, responses={201: ArticleSerializer}, tags=TAGS
    )
    def post(self, request):
        """Add an article to one of the agent's sites."""
        body = ArticleSerializer(data=request.data, site_ids=agent_site_ids(request.user))
        body.is_valid(raise_exception=True)
        article = article_create(**body.validated_data)
        return Response(ArticleSerializer(article).data, status=201)


class ArticleDetail(APIView):
    """One article."""

    @extend_schema(operation_id="articles_read", responses=ArticleSerializer, tags=TAGS)
    def get(self, request, article_id: int):
        """An article of the agent's sites."""
        return Response(ArticleSerializer(api_article(user=request.user, article_id=article_id)).data)

    @extend_schema(operation_id="articles_update", request=ArticleSerializer, responses=ArticleSerializer, tags=TAGS)
    def patch(self, request, article_id: int):
        """Change some of an article's fields (its site stays)."""
        article = api_article(user=request.user, article_id=article_id)
        body = ArticleSerializer(article, data=request.data, partial=True, site_ids=[article.site_id])
        body.is_valid(raise_exception=True)
        fields = {name: value for name, value in body.validated_data.items() if name != "site"}
        return Response(ArticleSerializer(article_update(article=article, **fields)).data)

    @extend_schema(operation_id="articles_delete", responses={204: None}, tags=TAGS)
    def delete(self, request, article_id: int):
        """Remove an article."""
        article_delete(article=api_article(user=request.user, article_id=article_id))
        return Response(status=204)
