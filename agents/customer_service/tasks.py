"""Celery task of the customer-service agent: one handoff-webhook delivery attempt.

`siyu.cs.webhook(shop_id, delivery_id)` runs one signed POST (`webhooks.attempt`). On a failure
with attempts left it sends ITSELF again with a countdown (capped exponential backoff) instead
of sleeping, so a dead receiver never holds a worker slot between tries. Everything it needs
is loaded from the delivery row; the task takes only ids.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from agents.customer_service import webhooks
from agents.jobs import task_runtime

WEBHOOK_TASK = "siyu.cs.webhook"


@shared_task(name=WEBHOOK_TASK, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]  # celery is untyped
def deliver_webhook(self: Task[Any, Any], shop_id: int, delivery_id: int) -> None:
    def again(shop: int, delivery: int, countdown_s: float) -> None:
        self.apply_async(args=[shop, delivery], countdown=countdown_s)

    webhooks.run_delivery(task_runtime(), shop_id, delivery_id, again)
