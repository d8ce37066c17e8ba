"""Customer-service errors, all in the one `SiyuError` tree (see store/errors.py).

Conflict (409)
├── InvalidTransition        409 invalid_transition   an event the conversation state cannot take
├── HandoffAlreadyClaimed    409 handoff_already_claimed  another staff member won the claim
└── HandoffClosed            409 handoff_closed       the handoff was already released or resolved
InvalidInput (400)
└── InvalidShopPolicy        400 invalid_shop_policy  the shop's `cs` settings do not validate
"""

from __future__ import annotations

from store.errors import Conflict, InvalidInput


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_detail = "当前会话状态不允许此操作"


class InvalidShopPolicy(InvalidInput):
    code = "invalid_shop_policy"
    default_detail = "店铺客服设置有误"


class HandoffAlreadyClaimed(Conflict):
    code = "handoff_already_claimed"
    default_detail = "该转人工工单已被其他客服认领"


class HandoffClosed(Conflict):
    code = "handoff_closed"
    default_detail = "该转人工工单已结束"
