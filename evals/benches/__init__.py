"""One module per benchmark; importing this package registers them all."""

from evals.benches import (
    compliance,  # noqa: F401
    cs,  # noqa: F401
    cs_load,  # noqa: F401
    embedder,  # noqa: F401
    forecast,  # noqa: F401
    rec,  # noqa: F401
    retrieval,  # noqa: F401
)
