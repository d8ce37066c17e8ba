"""Customer privacy: erasure of a customer's messages and personal fields (owner only, audited)."""

from __future__ import annotations

from fastapi import APIRouter

from agents.customer_service import service
from api.deps import OwnerDep, RuntimeDep
from api.errors import error_responses
from api.routers.conversations import NowDep, staff_name
from api.schemas.customers import ErasurePublic
from store.errors import Forbidden, NotFound, Unauthenticated

router = APIRouter(prefix="/v1", tags=["privacy"])


@router.delete(
    "/customers/{customer_ref}",
    response_model=ErasurePublic,
    responses=error_responses(Unauthenticated, Forbidden, NotFound),
)
def erase_customer(customer_ref: str, caller: OwnerDep, runtime: RuntimeDep, now: NowDep) -> ErasurePublic:
    """Erase the customer's message texts and personal fields (nickname, phone, address, ship
    addresses), set `erased_at`, and write an audit record. Orders stay for the shop's books."""
    counts = service.erase_customer(runtime, caller.shop_id, customer_ref, staff_name(caller), now)
    return ErasurePublic.of(customer_ref, counts)
