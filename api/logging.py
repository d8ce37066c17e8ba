"""Structured logging: dotted event names, extra fields as key=value, PII masked."""

from __future__ import annotations

import logging

from agents.privacy import mask_pii

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class KeyValueFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        base = super().format(record)
        extras = {k: v for k, v in record.__dict__.items() if k not in _RESERVED}
        if not extras:
            return base
        return base + " " + " ".join(f"{k}={v!r}" for k, v in sorted(extras.items()))


class PiiMaskingFilter(logging.Filter):
    """Masks phone numbers, IDs, cards and addresses in the message and in string extras.

    Installed on the handler, not the logger: logger filters do not see records that
    propagate up from child loggers such as `siyu.cs`.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_pii(message)
        if masked != message:
            record.msg, record.args = masked, None
        for key, value in list(record.__dict__.items()):
            if key not in _RESERVED and isinstance(value, str):
                setattr(record, key, mask_pii(value))
        return True


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger("siyu")
    if getattr(root, "_siyu_configured", False):
        root.setLevel(level)
        return
    handler = logging.StreamHandler()
    handler.setFormatter(KeyValueFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(PiiMaskingFilter())
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    root._siyu_configured = True  # type: ignore[attr-defined]  # idempotence marker
