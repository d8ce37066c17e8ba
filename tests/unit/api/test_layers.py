"""What the layer contracts (`make layers`, import-linter) cannot see: what a process loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from api.celery_app import make_celery
from api.routers.jobs import EVAL_SUITES
from evals import harness
from store.settings import Settings

ROOT = Path(__file__).resolve().parents[3]


def test_the_running_service_never_loads_eval_code() -> None:
    probe = (
        "import sys, api.app\n"
        "loaded = sorted(m for m in sys.modules if m == 'evals' or m.startswith('evals.'))\n"
        "print(','.join(loaded))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == ""


def test_the_api_offers_exactly_the_suites_the_harness_registers() -> None:
    harness.load_suites()
    registered = {name for name in harness.REGISTRY if not name.startswith("test_")}
    assert registered == EVAL_SUITES


def test_a_worker_app_registers_the_eval_job_from_evals(tmp_path: Path) -> None:
    app = make_celery(Settings(env="test", var_dir=tmp_path), import_tasks=True)
    assert "evals.tasks" in app.conf.include
    assert "siyu.job.eval" in app.tasks
    assert "cs-webhook-sweep" in app.conf.beat_schedule
