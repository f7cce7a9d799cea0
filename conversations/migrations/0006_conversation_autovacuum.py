"""A conversation's row is updated by every message (its counters and
times, some of them indexed), so it leaves a dead row version per message:
vacuum the table after 2 % of its rows changed instead of PostgreSQL's
default 20 % (docs/operations.md, "PostgreSQL")."""

from django.db import migrations

TABLE = "conversations_conversation"


class Migration(migrations.Migration):

    dependencies = [
        ("conversations", "0005_conversation_flood_window"),
    ]

    operations = [
        migrations.RunSQL(
            f"ALTER TABLE {TABLE} SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 100,"
            " autovacuum_analyze_scale_factor = 0.05)",
            reverse_sql=f"ALTER TABLE {TABLE} RESET (autovacuum_vacuum_scale_factor, autovacuum_vacuum_threshold,"
            " autovacuum_analyze_scale_factor)",
        ),
    ]
