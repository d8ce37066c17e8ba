"""Each shop's handoff webhook (URL + signing secret) and the record of every delivery.

A delivery row is written in the SAME transaction as the event it reports (the handoff row),
so an event exists exactly when its delivery does; sending happens after the commit. Attempts
update the row with single UPDATEs scoped by `shop_id`, and a finished delivery never reopens.

`next_attempt_at` is also the delivery's claim: an attempt starts only by moving it from the past
(or NULL) to the end of a lease (`claim_attempt`, one conditional UPDATE), so two messages for one
delivery (a sweeper's re-enqueue and a slow original) never POST at the same time. A pending row
that nobody claimed or retried for a grace period was lost between commit and enqueue, or with
a crashed worker: `stale_pending` finds it and `requeue` claims it for exactly one sweeper.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, CursorResult, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import ShopWebhook, WebhookDelivery, WebhookDeliveryStatus

ERROR_MAX = 500


class WebhookRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- the shop's endpoint --------------------------------------------------------------

    def config(self, shop_id: int) -> ShopWebhook | None:
        return self.session.scalar(select(ShopWebhook).where(ShopWebhook.shop_id == shop_id))

    def set_config(self, shop_id: int, url: str, secret: str) -> ShopWebhook:
        hook = self.config(shop_id)
        if hook is None:
            hook = ShopWebhook(shop_id=shop_id, url=url, secret=secret)
            self.session.add(hook)
        else:
            hook.url, hook.secret = url, secret
        self.session.flush()
        return hook

    def delete_config(self, shop_id: int) -> bool:
        result = self.session.execute(delete(ShopWebhook).where(ShopWebhook.shop_id == shop_id))
        assert isinstance(result, CursorResult)
        return result.rowcount > 0

    # -- deliveries -----------------------------------------------------------------------

    def add_delivery(
        self, shop_id: int, event: str, handoff_id: int | None, url: str, payload: dict[str, Any]
    ) -> WebhookDelivery:
        row = WebhookDelivery(
            shop_id=shop_id,
            event=event,
            handoff_id=handoff_id,
            url=url,
            payload=payload,
            status=WebhookDeliveryStatus.pending,
            attempts=0,
        )
        self.session.add(row)
        self.session.flush()
        return row

    def get_delivery(self, shop_id: int, delivery_id: int) -> WebhookDelivery:
        row = self.session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.shop_id == shop_id, WebhookDelivery.id == delivery_id
            )
        )
        if row is None:
            raise NotFound(f"Webhook 投递 {delivery_id} 不存在")
        return row

    def recent_deliveries(self, shop_id: int, *, limit: int = 20) -> list[WebhookDelivery]:
        return list(
            self.session.scalars(
                select(WebhookDelivery)
                .where(WebhookDelivery.shop_id == shop_id)
                .order_by(WebhookDelivery.id.desc())
                .limit(limit)
            )
        )

    def record_attempt(
        self,
        shop_id: int,
        delivery_id: int,
        *,
        status: WebhookDeliveryStatus,
        url: str,
        status_code: int | None,
        error: str | None,
        now: datetime,
        next_attempt_at: datetime | None = None,
    ) -> bool:
        """Count one attempt on a pending delivery; False when it was already finished."""
        result = self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.shop_id == shop_id,
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == WebhookDeliveryStatus.pending,
            )
            .values(
                status=status,
                url=url,
                attempts=WebhookDelivery.attempts + 1,
                last_status_code=status_code,
                last_error=None if error is None else error[:ERROR_MAX],
                next_attempt_at=next_attempt_at,
                delivered_at=now if status is WebhookDeliveryStatus.delivered else None,
            )
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def fail(self, shop_id: int, delivery_id: int, error: str) -> None:
        """Give up without an attempt (the queue refused it, the webhook was removed)."""
        self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.shop_id == shop_id,
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == WebhookDeliveryStatus.pending,
            )
            .values(status=WebhookDeliveryStatus.failed, last_error=error[:ERROR_MAX], next_attempt_at=None)
            .execution_options(synchronize_session=False)
        )

    # -- claims and the sweeper -----------------------------------------------------------

    def claim_attempt(self, shop_id: int, delivery_id: int, *, now: datetime, lease_until: datetime) -> bool:
        """Take the right to make the next attempt, until `lease_until`. False when the delivery
        is finished, or another attempt holds it, or its retry is not due yet."""
        result = self.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.shop_id == shop_id,
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == WebhookDeliveryStatus.pending,
                or_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.next_attempt_at <= now),
            )
            .values(next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1

    def stale_pending(self, *, now: datetime, grace: timedelta, limit: int = 500) -> list[tuple[int, int]]:
        """(shop_id, delivery_id) of pending deliveries, every shop's, that should have been
        attempted more than `grace` ago: never claimed since they were written, or whose retry
        or attempt lease ran out. Oldest first."""
        rows = self.session.execute(
            select(WebhookDelivery.shop_id, WebhookDelivery.id)
            .where(_stale(now - grace))
            .order_by(WebhookDelivery.id)
            .limit(limit)
        )
        return [(int(shop_id), int(delivery_id)) for shop_id, delivery_id in rows]

    def requeue(self, shop_id: int, delivery_id: int, *, now: datetime, grace: timedelta) -> bool:
        """Mark a stale delivery as re-enqueued now (so the next sweep waits another grace
        period). True for exactly one of any concurrent sweepers, and only while it is stale."""
        result = self.session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.shop_id == shop_id, WebhookDelivery.id == delivery_id, _stale(now - grace))
            .values(next_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return result.rowcount == 1


def _stale(before: datetime) -> ColumnElement[bool]:
    return and_(
        WebhookDelivery.status == WebhookDeliveryStatus.pending,
        or_(
            and_(WebhookDelivery.next_attempt_at.is_(None), WebhookDelivery.created_at < before),
            WebhookDelivery.next_attempt_at < before,
        ),
    )
