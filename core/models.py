"""Abstract bases only: core owns no tables."""

from django.db import models


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AccountScopedModel(TimestampedModel):
    """A tenant-owned row. Every query for it starts from an account.

    Indexes and unique constraints of subclasses lead with ``account``.
    """

    account = models.ForeignKey("accounts.Account", on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True
