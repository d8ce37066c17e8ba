"""The one error tree. Every expected failure in siyu is a `SiyuError`.

    SiyuError(code, status, detail)
    ├── ConfigError                  500 config_error        a bad SIYU_ setting (raised at start-up)
    ├── Unauthenticated              401 unauthenticated     missing or unknown API key
    ├── Forbidden                    403 forbidden           the key's role may not do this
    ├── NotFound                     404 not_found           absent, or another shop's (never tell which)
    ├── Conflict                     409 conflict
    │   └── AlreadyExists            409 already_exists
    ├── InvalidInput                 400 invalid_input       bad upload/import: names file, line, field
    │   ├── ImportInvalid            400 invalid_input       every bad row of an import (sales, products)
    │   └── DateOutOfRange           400 date_out_of_range   a date past the holiday calendar (1901–2099)
    ├── JobFailed                    409 job_failed
    └── LLMError                     502 llm_error           the only errors the LLM gateway raises
        ├── LLMTimeout               504 llm_timeout
        ├── LLMUnavailable           502 llm_unavailable
        └── LLMBadOutput             502 llm_bad_output

`api/errors.py` turns any of these into `{"error": code, "detail": message}`. Later
issues add their own business outcomes (e.g. `handoff_already_claimed`) as subclasses.
`detail` is what a person reads, so it is Chinese where a shop owner or staff reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class SiyuError(Exception):
    code: ClassVar[str] = "siyu_error"
    status: ClassVar[int] = 500
    default_detail: ClassVar[str] = "服务内部错误"

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class ConfigError(SiyuError):
    code = "config_error"
    status = 500
    default_detail = "配置有误"


class Unauthenticated(SiyuError):
    code = "unauthenticated"
    status = 401
    default_detail = "缺少或无效的 API Key，请在请求头中使用 Authorization: Bearer <key>"


class Forbidden(SiyuError):
    code = "forbidden"
    status = 403
    default_detail = "当前 API Key 的角色无权执行此操作"


class NotFound(SiyuError):
    code = "not_found"
    status = 404
    default_detail = "未找到"


class Conflict(SiyuError):
    code = "conflict"
    status = 409
    default_detail = "操作冲突"


class AlreadyExists(Conflict):
    code = "already_exists"
    default_detail = "已存在"


class InvalidInput(SiyuError):
    """Bad uploaded or imported data. Always says where: file, line and field."""

    code = "invalid_input"
    status = 400
    default_detail = "输入数据有误"

    def __init__(
        self,
        detail: str | None = None,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.file, self.line, self.field = file, line, field
        where = ", ".join(
            part
            for part in (
                f"文件 {file!r}" if file else "",
                f"第 {line} 行" if line is not None else "",
                f"字段 {field!r}" if field else "",
            )
            if part
        )
        super().__init__(f"{where}: {detail}" if where and detail else detail or where or None)


@dataclass(frozen=True)
class RowIssue:
    """One bad cell of an import: the line (CSV line, XLSX row, JSON line) and the field."""

    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"第 {self.line} 行 字段 {self.field!r}: {self.message}"


class ImportInvalid(InvalidInput):
    """An import with bad rows. Nothing is imported; every issue is kept, the first `show` in `detail`."""

    def __init__(self, file: str, issues: list[RowIssue], *, show: int = 10) -> None:
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


class DateOutOfRange(InvalidInput):
    """A year the holiday calendar (`store.holidays`) does not cover: said loudly, never skipped."""

    code = "date_out_of_range"
    default_detail = "日期超出节假日日历覆盖的年份"

    def __init__(self, year: int, first: int, last: int) -> None:
        self.year = year
        super().__init__(f"节假日日历只覆盖 {first}–{last} 年，无法推算 {year!r} 年的春节")


class JobFailed(SiyuError):
    code = "job_failed"
    status = 409
    default_detail = "任务执行失败"


class LLMError(SiyuError):
    code = "llm_error"
    status = 502
    default_detail = "语言模型调用失败"


class LLMTimeout(LLMError):
    code = "llm_timeout"
    status = 504
    default_detail = "语言模型响应超时"


class LLMUnavailable(LLMError):
    code = "llm_unavailable"
    default_detail = "语言模型服务不可用"


class LLMBadOutput(LLMError):
    code = "llm_bad_output"
    default_detail = "语言模型输出格式不正确"
