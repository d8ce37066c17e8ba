"""Each shop's handoff webhook (URL + signing secret) and the record of every delivery.

A delivery row is written in the SAME transaction as the event it reports (the handoff row),
so an event exists exactly when its delivery does; sending happens after the commit. Attempts
update the row with single UPDATEs scoped by `shop_id`, and a finished delivery never reopens.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CursorResult, delete, select, update
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
