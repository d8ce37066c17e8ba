"""Errors of the Moments copywriter.

SiyuError
├── ConfigError
│   └── LexiconError           500 lexicon_error        the 广告法 lexicon file is malformed
└── InvalidInput
    └── UnknownProductCategory 400 unknown_product_category
"""

from __future__ import annotations

from store.errors import ConfigError, Conflict, InvalidInput


class LexiconError(ConfigError):
    code = "lexicon_error"
    default_detail = "广告合规词库文件有误"


class UnknownProductCategory(InvalidInput):
    code = "unknown_product_category"
    default_detail = "未知的商品类目"


class TemplateLibraryError(ConfigError):
    code = "template_library_error"
    default_detail = "朋友圈文案模板库文件有误"


class MomentsConstraintError(InvalidInput):
    code = "moments_constraints_unsatisfiable"
    default_detail = "字数上限太小，放不下要求的表情、话题和商品信息"


class UnsafePromoText(InvalidInput):
    code = "unsafe_promo_text"
    default_detail = "促销文案含有无法自动修正的违规词或与商品资料不符的数字"


class DraftAlreadyDecided(Conflict):
    code = "draft_already_decided"
    default_detail = "这条草稿已经审核过了"


class CalendarNotReady(Conflict):
    code = "calendar_not_ready"
    default_detail = "排期任务尚未完成"
