"""Beat schedule of the conversations app (collected by
``core/management/commands/setup_periodic_tasks.py``). Every job is idempotent
and cheap when there is nothing to do; ``expire_seconds`` drops a run a busy
worker did not pick up before the next one is due."""

PERIODIC_TASKS: dict[str, dict] = {
    # Safety net of the event-driven assigner (hooks run it in-process).
    "charla.routing_sweep": {"task": "conversations.tasks.routing_sweep", "every_seconds": 5, "expire_seconds": 5},
    # Offline agents past the grace, and Account.reassign_unreplied_minutes.
    "charla.routing_reassign": {"task": "conversations.tasks.routing_reassign", "every_seconds": 30, "expire_seconds": 30},
    "charla.sla_check": {"task": "conversations.tasks.sla_check", "every_seconds": 15, "expire_seconds": 15},
    # Idle conversations (24 h by default) and lost transcript tasks.
    "charla.auto_close": {"task": "conversations.tasks.auto_close", "every_seconds": 60, "expire_seconds": 60},
    "charla.snooze_wake": {"task": "conversations.tasks.snooze_wake", "every_seconds": 30, "expire_seconds": 30},
}
