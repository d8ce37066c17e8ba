"""One module per suite; importing this package registers them all."""

from evals.suites import (
    copy,  # noqa: F401
    cs,  # noqa: F401
    embedder,  # noqa: F401
    forecast,  # noqa: F401
    kb,  # noqa: F401
    rec,  # noqa: F401
)
