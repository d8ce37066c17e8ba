#!/usr/bin/env bash
# Regenerate requirements.lock (runtime) and requirements-dev.lock (runtime + dev tools) with pip.
#
# Resolves pyproject's `dependencies` and the `dev` extra in a scratch venv and freezes the result,
# so each lock is a complete, consistent closure. The current pins are passed as constraints, so
# nothing moves unless you ask for it:
#
#   bash scripts/lock.sh                  # re-resolve, keeping every existing pin that still fits
#   bash scripts/lock.sh --upgrade        # resolve from scratch: the newest versions the ranges allow
#
# torch is installed first in its own step (a plain `torch` pulls a multi-GB CUDA build) and is
# left out of both files, as the Makefile installs it on its own; the script fails if anything in
# the closure wants a torch other than $TORCH.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
TORCH="torch==2.13.0"
upgrade=0
[ "${1:-}" = "--upgrade" ] && upgrade=1

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$ROOT"

"$PYTHON" - "$work" <<'EOF'
import sys, tomllib
work = sys.argv[1]
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
runtime = [d for d in project["dependencies"] if not d.replace(" ", "").startswith("torch")]
open(f"{work}/runtime.in", "w").write("\n".join(runtime) + "\n")
open(f"{work}/dev.in", "w").write("\n".join(project["optional-dependencies"]["dev"]) + "\n")
EOF

constraints=()
if [ "$upgrade" -eq 0 ]; then
  cat requirements.lock requirements-dev.lock 2>/dev/null | grep -E '^[A-Za-z0-9_.-]+==' | sort -u >"$work/pins.txt" || true
  constraints=(-c "$work/pins.txt")
fi

pip=("$work/venv/bin/pip" --disable-pip-version-check -q)
"$PYTHON" -m venv "$work/venv"
"${pip[@]}" install "$TORCH"
"${pip[@]}" install -r "$work/runtime.in" "${constraints[@]}"
"${pip[@]}" freeze >"$work/runtime.txt"
"${pip[@]}" install -r "$work/dev.in" "${constraints[@]}"
"${pip[@]}" freeze >"$work/dev.txt"
"${pip[@]}" check

"$PYTHON" - "$work" "${TORCH#torch==}" <<'EOF'
import sys
work, torch = sys.argv[1], sys.argv[2]


def pins(path: str) -> dict[str, str]:
    out = {}
    for line in open(path):
        name, sep, version = line.strip().partition("==")
        if sep:
            out[name] = version
    return out


runtime, dev = pins(f"{work}/runtime.txt"), pins(f"{work}/dev.txt")
for name, version in (("runtime", runtime), ("dev", dev)):
    if version.get("torch", "").split("+")[0] != torch:
        sys.exit(f"the {name} closure moved torch to {version.get('torch')!r}; expected {torch}")
moved = {n: (v, dev[n]) for n, v in runtime.items() if dev.get(n) != v}
if moved:
    sys.exit(f"installing the dev tools changed runtime pins: {moved}")


def write(path: str, header: list[str], names: dict[str, str]) -> None:
    lines = [f"{n}=={v}" for n, v in sorted(names.items(), key=lambda kv: kv[0].lower()) if n != "torch"]
    open(path, "w").write("\n".join(header + lines) + "\n")


write(
    "requirements.lock",
    [
        "# The runtime closure of pyproject's `dependencies`, exact pins, from scripts/lock.sh.",
        "# torch==2.13.0 is installed before this file, in its own step (see the Makefile).",
    ],
    runtime,
)
write(
    "requirements-dev.lock",
    [
        "# requirements.lock plus the `dev` extra's closure (tests, lint, types, checks, build), from scripts/lock.sh.",
        "-r requirements.lock",
    ],
    {n: v for n, v in dev.items() if n not in runtime},
)
print(f"requirements.lock: {len(runtime) - 1} pins; requirements-dev.lock: +{len(dev) - len(runtime)}")
EOF
