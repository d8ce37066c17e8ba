"""Forecaster errors, under the one tree in `store.errors`.

InvalidInput                 400 invalid_input
└── SalesCsvInvalid          400 invalid_input   every bad line of an import, first N in `detail`
SiyuError
└── ForecastError            422 forecast_failed  the history cannot be forecast (e.g. empty)
"""

from __future__ import annotations

from dataclasses import dataclass

from store.errors import InvalidInput, SiyuError


@dataclass(frozen=True)
class CsvIssue:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.line} 行 字段 {self.field!r}: {self.message}"


class SalesCsvInvalid(InvalidInput):
    """A sales import with bad lines. Nothing is imported; all issues are kept, the first few are shown."""

    def __init__(self, file: str, issues: list[CsvIssue], *, show: int = 10) -> None:
        self.issues = issues
        first = issues[0]
        shown = "；".join(str(issue) for issue in issues[:show])
        more = f"；另有 {len(issues) - show} 处错误未列出" if len(issues) > show else ""
        super().__init__(
            f"共 {len(issues)} 处错误，未导入任何数据。{shown}{more}",
            file=file,
            line=first.line,
            field=first.field,
        )


class ForecastError(SiyuError):
    code = "forecast_failed"
    status = 422
    default_detail = "销售历史不足，无法预测"
