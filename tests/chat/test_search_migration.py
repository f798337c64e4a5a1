"""Migration 0009 on a database that already holds conversations: the rollup table, and on PostgreSQL the indexes."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("chat", "0008_api")]
AFTER = [("chat", "0009_search")]
INDEXES = {
    "message_search",
    "message_unanswered",
    "message_bot_work",
    "message_feedback",
    "visitor_name_trgm",
    "visitor_email_trgm",
    "visitor_name_words",
    "conv_desk_open",
    "conv_site_updated",
    "conv_site_rated",
}


def indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db(transaction=True)
def test_migrating_an_existing_database_builds_the_search_indexes():
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes("chat")
    try:
        executor.migrate(BEFORE)
        apps = MigrationExecutor(connection).loader.project_state(BEFORE).apps
        site = apps.get_model("chat", "Site").objects.create(name="Shop", key="site_migration")
        visitor = apps.get_model("chat", "Visitor").objects.create(site=site, name="王小明", email="wang@example.cn")
        conversation = apps.get_model("chat", "Conversation").objects.create(site=site, visitor=visitor)
        apps.get_model("chat", "Message").objects.create(
            conversation=conversation, seq=1, author_kind="customer", body="Where is my refund? 我想退货"
        )

        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        apps = executor.loader.project_state(AFTER).apps
        assert apps.get_model("chat", "DailyStats").objects.count() == 0
        if connection.vendor == "postgresql":
            assert INDEXES <= indexes()
            with connection.cursor() as cursor:
                # The rows written before the migration are in the new index's terms.
                cursor.execute(
                    "SELECT count(*) FROM chat_message WHERE parley_search_vector(body) @@ "
                    "(plainto_tsquery('english', 'refunds') && to_tsquery('simple', '退货'))"
                )
                assert cursor.fetchone()[0] == 1
            executor = MigrationExecutor(connection)
            executor.migrate(BEFORE)
            assert not INDEXES & indexes()
    finally:
        MigrationExecutor(connection).migrate(latest)
