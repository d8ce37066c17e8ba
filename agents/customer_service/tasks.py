"""Celery tasks of the customer-service agent: one handoff-webhook delivery attempt, the
webhook sweeper (`siyu.cs.webhook_sweep`, beat, every minute), and the LLM suggested reply of a
handoff brief (`siyu.cs.suggest_reply`, see suggest.py).

`siyu.cs.webhook(shop_id, delivery_id)` runs one signed POST (`webhooks.attempt`). On a failure
with attempts left it sends ITSELF again with a countdown (capped exponential backoff) instead
of sleeping, so a dead receiver never holds a worker slot between tries. Everything it needs
is loaded from the delivery row; the task takes only ids.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from agents.customer_service import suggest, webhooks
from agents.jobs import Periodic, periodic, task_runtime

WEBHOOK_TASK = "siyu.cs.webhook"
SUGGEST_TASK = "siyu.cs.suggest_reply"
SWEEP_TASK = "siyu.cs.webhook_sweep"
SWEEP_EVERY_S = 60.0


@shared_task(name=WEBHOOK_TASK, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def deliver_webhook(self: Task[Any, Any], shop_id: int, delivery_id: int) -> None:
    def again(shop: int, delivery: int, countdown_s: float) -> None:
        self.apply_async(args=[shop, delivery], countdown=countdown_s)

    webhooks.run_delivery(task_runtime(), shop_id, delivery_id, again)


@shared_task(name=SUGGEST_TASK, ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def suggest_reply(shop_id: int, handoff_id: int) -> None:
    """The LLM-written suggested reply of a handoff brief (suggest.py); never retried: a failure
    leaves the extractive reply, which staff already have."""
    suggest.write_llm_suggestion(task_runtime(), shop_id, handoff_id)


@shared_task(name=SWEEP_TASK, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def sweep_webhooks(self: Task[Any, Any]) -> None:
    """Re-enqueue deliveries left pending (a crash between commit and enqueue); see webhooks.sweep."""

    def dispatch(shop_id: int, delivery_id: int, countdown_s: float) -> None:
        # Through this worker's own app (the apps are not set as current), to its broker.
        self.app.send_task(WEBHOOK_TASK, args=[shop_id, delivery_id], countdown=countdown_s or None)

    webhooks.sweep(task_runtime(), dispatch)


periodic(Periodic(name="cs-webhook-sweep", task=SWEEP_TASK, every_s=SWEEP_EVERY_S))
