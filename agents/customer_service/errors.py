"""Customer-service errors, all in the one `SiyuError` tree (see store/errors.py).

Conflict (409)
└── InvalidTransition        409 invalid_transition   an event the conversation state cannot take
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
