"""Entry points of the copywriter. The API, the CLI and the evals call these same functions."""

from __future__ import annotations

import logging

from agents.copywriter.compliance import check
from agents.copywriter.schemas import CopyCheckRequest, CopyCheckResult

log = logging.getLogger("siyu.copywriter")


def check_copy(request: CopyCheckRequest) -> CopyCheckResult:
    """Check any text against the 广告法 lexicon; no database, no model."""
    report = check(request.text, request.category)
    if report.violations:
        log.info(
            "copy.check.violations",
            extra={
                "category": request.category,
                "violations": len(report.violations),
                "counts": report.counts,
            },
        )
    return CopyCheckResult.from_report(report)
