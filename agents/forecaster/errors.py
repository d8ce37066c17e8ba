"""Forecaster errors, under the one tree in `store.errors`.

InvalidInput                 400 invalid_input
└── ImportInvalid
    └── SalesCsvInvalid          400 invalid_input   every bad line of an import, first N in `detail`
SiyuError
└── ForecastError            422 forecast_failed  the history cannot be forecast (e.g. empty)
"""

from __future__ import annotations

from store.errors import ImportInvalid, RowIssue, SiyuError

# The row issue is shared with every import (see `store.errors`); the old name stays for callers.
CsvIssue = RowIssue


class SalesCsvInvalid(ImportInvalid):
    """A sales import with bad lines. Nothing is imported; all issues are kept, the first few are shown."""


class ForecastError(SiyuError):
    code = "forecast_failed"
    status = 422
    default_detail = "销售历史不足，无法预测"
