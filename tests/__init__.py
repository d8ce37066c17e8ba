"""siyu's tests. `TEST_CACHE_DIR` is this machine's cache for them, kept between runs: the
converted embedding model and the demo knowledge-base templates (tests/demo_kb.py)."""

from pathlib import Path

TEST_CACHE_DIR = Path(__file__).resolve().parents[1] / "var" / "test-cache"
