import psycopg

from session_cli.litellm_schema import apply_litellm_migrations
from session_cli.registry.migrate import current_revision, head_revision, upgrade_to_head


def test_migrate_to_head_is_idempotent(make_database):
    url = make_database("migrate")
    assert current_revision(url) is None
    assert upgrade_to_head(url) == head_revision()
    assert upgrade_to_head(url) == head_revision()
    assert current_revision(url) == head_revision()
    with psycopg.connect(url) as conn:
        tables = {
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = 'registry'"
            )
        }
    assert {"sessions", "variants", "experiments", "config_history", "alembic_version"} <= tables


def test_litellm_spend_logs_table_is_litellms_own(litellm_db):
    with psycopg.connect(litellm_db) as conn:
        cols = dict(
            conn.execute(
                """select column_name, data_type from information_schema.columns
                   where table_name = 'LiteLLM_SpendLogs'"""
            ).fetchall()
        )
    assert cols["startTime"] == "timestamp without time zone"
    assert cols["metadata"] == "jsonb"
    assert {"request_id", "api_key", "completionStartTime", "status", "litellm_call_id"} <= set(cols)
    assert apply_litellm_migrations(litellm_db) is False  # second call is a no-op
