"""Search indexes and report rollups.

On PostgreSQL: pg_trgm, one GIN index over a message's English words and CJK unigrams and bigrams, trigram indexes
for visitors' names and emails, and the indexes the desk's keyset pages and the rollups' freshness checks read.
SQLite gets the rollup table only; its search stays a scan, which is fine at its size.
"""

import django.db.models.deletion
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# Runs of Chinese, Japanese and Korean characters: words there are not separated by spaces, so each run is indexed
# as its single characters and its pairs of characters, and a query matches by the same pieces.
CJK_GRAMS = r"""
CREATE OR REPLACE FUNCTION parley_cjk_grams(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_to_tsvector(array_agg(DISTINCT gram)), ''::tsvector)
      FROM (SELECT substr(run[1], i, n) AS gram
              FROM regexp_matches(body, '[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]+', 'g')
                   AS run,
                   generate_series(1, 2) AS n,
                   generate_series(1, char_length(run[1]) - n + 1) AS i) AS grams
$$;
"""

SEARCH_VECTOR = """
CREATE OR REPLACE FUNCTION parley_search_vector(body text) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT to_tsvector('english'::regconfig, body) || parley_cjk_grams(body)
$$;
"""

# CONCURRENTLY: an existing installation keeps taking messages while its indexes build.
INDEXES = [
    # Every message, a streaming reply too (its saved deltas index it again): a partial index leaving streams out
    # made searches of several words take twice as long (the bench's `data` scenario).
    ("message_search", "chat_message USING gin (parley_search_vector(body))"),
    # The reports' unanswered questions read the latest misses only; the bot's numbers look for its work and for
    # feedback per conversation, both rare among messages.
    ("message_unanswered", "chat_message (created_at DESC, id DESC) WHERE outcome = 'unanswered'"),
    (
        "message_bot_work",
        "chat_message (conversation_id) WHERE author_kind = 'bot' AND outcome IN ('answered', 'unanswered', 'clarify')",
    ),
    ("message_feedback", "chat_message (conversation_id) WHERE feedback IS NOT NULL"),
    # Django's icontains is UPPER(col::text) LIKE UPPER(pattern): these serve it as written.
    ("visitor_name_trgm", "chat_visitor USING gin (upper(name::text) gin_trgm_ops)"),
    ("visitor_email_trgm", "chat_visitor USING gin (upper(email::text) gin_trgm_ops)"),
    # A query under three characters (a Chinese name) has no trigram to look up: names are found by their words.
    ("visitor_name_words", "chat_visitor USING gin (parley_search_vector(name::text))"),
    # The desk's keyset pages: open and mine by latest activity, resolved by last change.
    ("conv_desk_open", "chat_conversation (site_id, status, last_message_at DESC NULLS LAST, id DESC)"),
    ("conv_site_updated", "chat_conversation (site_id, updated_at DESC, id DESC)"),
    # A rating changes a past day's rollup without touching updated_at.
    ("conv_site_rated", "chat_conversation (site_id, rated_at) WHERE rated_at IS NOT NULL"),
]


class PostgresSQL(migrations.RunSQL):
    """RunSQL that does nothing on other databases."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class KeepTrigramExtension(TrigramExtension):
    """pg_trgm, kept when the migration is reversed: other indexes of the database may use it too."""

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        pass


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("chat", "0008_api")]

    operations = [
        migrations.CreateModel(
            name="DailyStats",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("day", models.DateField()),
                ("time_zone", models.CharField(max_length=64)),
                ("conversations", models.PositiveIntegerField(default=0)),
                ("bot_alone", models.PositiveIntegerField(default=0)),
                (
                    "first_responses",
                    models.JSONField(default=list, help_text="Seconds to the first human answer, one per answer."),
                ),
                (
                    "resolutions",
                    models.JSONField(default=list, help_text="Seconds from start to resolve, one per resolve."),
                ),
                (
                    "ratings",
                    models.JSONField(
                        default=dict,
                        help_text='Ratings per assignee id ("" for none): how many of each score 1 to 5.',
                    ),
                ),
                ("computed_at", models.DateTimeField()),
                ("last_conversation_id", models.BigIntegerField(default=0)),
                (
                    "site",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE, related_name="daily_stats", to="chat.site"
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "daily stats",
                "constraints": [
                    models.UniqueConstraint(fields=("site", "time_zone", "day"), name="daily_stats_unique_day")
                ],
            },
        ),
        KeepTrigramExtension(),
        PostgresSQL(
            CJK_GRAMS + SEARCH_VECTOR,
            "DROP FUNCTION IF EXISTS parley_search_vector(text); DROP FUNCTION IF EXISTS parley_cjk_grams(text);",
        ),
        *(
            PostgresSQL(
                f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {target}",
                f"DROP INDEX CONCURRENTLY IF EXISTS {name}",
            )
            for name, target in INDEXES
        ),
    ]
