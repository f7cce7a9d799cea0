# Inbox search: trigram GIN indexes on the upper-cased text that ``icontains``
# compares (``UPPER(col) LIKE UPPER('%term%')``), used by
# ``selectors.search_filter_indexed`` for rare terms on long lists
# (docs/performance.md "Inbox rendering", docs/decisions.md).
#
# Built CONCURRENTLY (no write lock on the message table while the index
# builds), hence ``atomic = False``. ``pg_trgm`` ships with PostgreSQL;
# creating the extension needs a superuser or a database owner with
# CREATE privilege (PostgreSQL 13+: trusted extension).

import django.contrib.postgres.indexes
import django.db.models.functions.text
from django.contrib.postgres.operations import AddIndexConcurrently, TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('accounts', '0002_initial'),
        ('conversations', '0003_closed_list_index'),
    ]

    operations = [
        TrigramExtension(),
        AddIndexConcurrently(
            model_name='contact',
            index=django.contrib.postgres.indexes.GinIndex(django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('name'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('email'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('phone'), name='gin_trgm_ops'), django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('document_number'), name='gin_trgm_ops'), name='contact_search_trgm'),
        ),
        AddIndexConcurrently(
            model_name='message',
            index=django.contrib.postgres.indexes.GinIndex(django.contrib.postgres.indexes.OpClass(django.db.models.functions.text.Upper('content'), name='gin_trgm_ops'), name='message_content_trgm'),
        ),
    ]
