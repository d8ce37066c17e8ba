"""Typed inputs and outputs of the copywriter, shared by the API, the CLI and the evals."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from agents.copywriter.compliance import ComplianceReport, Violation
from agents.copywriter.lexicon import ProductCategory, Severity, ViolationCategory

MAX_CHECK_CHARS = 5000


class CopyCheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=1,
        max_length=MAX_CHECK_CHARS,
        description="任意文案：朋友圈、群发、客服话术",
        examples=["✨全网最低价✨ 国 家 级 品质，最好用的锅！"],
    )
    category: ProductCategory = Field(
        "general",
        description=(
            "商品类目：general | cosmetics | cosmetics_special (已注册特殊化妆品) | food | health | infant"
        ),
    )


class ViolationPublic(BaseModel):
    term: str = Field(description="词库中的词条")
    matched: str = Field(description="原文中实际写法，如 “✨最✨佳”")
    category: ViolationCategory
    start: int = Field(description="原文起始偏移（含）")
    end: int = Field(description="原文结束偏移（不含）")
    article: str
    severity: Severity
    suggestion: str = Field(description="可安全替换时为替换词，否则为修改建议")
    replacements: list[str]
    fixable: bool

    @classmethod
    def from_violation(cls, v: Violation) -> ViolationPublic:
        return cls(
            term=v.term,
            matched=v.matched,
            category=v.category,
            start=v.start,
            end=v.end,
            article=v.article,
            severity=v.severity,
            suggestion=v.suggestion,
            replacements=list(v.replacements),
            fixable=v.fixable,
        )


class CopyCheckResult(BaseModel):
    ok: bool = Field(description="没有任何违规时为 true")
    violations: list[ViolationPublic]
    fixed: str = Field(description="已自动替换可安全改写的违规词后的全文；其余违规需人工修改")
    category: ProductCategory
    lexicon_version: str

    @classmethod
    def from_report(cls, report: ComplianceReport) -> CopyCheckResult:
        return cls(
            ok=report.ok,
            violations=[ViolationPublic.from_violation(v) for v in report.violations],
            fixed=report.fixed,
            category=report.category,
            lexicon_version=report.lexicon_version,
        )
