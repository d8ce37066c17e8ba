#!/usr/bin/env bash
# Does siyu work outside the checkout? Build the wheel from the files git knows, install it with
# requirements.lock into a fresh venv, and run scripts/wheel_smoke.py and the `siyu` CLI from a
# directory outside the checkout (Moments copy offline, the 广告法 check, prompts, migrations, data).
#
#   bash scripts/wheel_smoke.sh          # what `make wheel-smoke` and CI run
#   KEEP=1 bash scripts/wheel_smoke.sh   # keep the temp dir (wheel, venv) for a look afterwards
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3.11}"
BUILDER="${BUILDER:-$ROOT/.venv/bin/python}"
TORCH="torch==2.13.0"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False
unset PYTHONPATH

tmp="$(mktemp -d)"
if [ "${KEEP:-0}" = 1 ]; then echo "kept: $tmp"; else trap 'rm -rf "$tmp"' EXIT; fi
started=$SECONDS

# A copy of what git tracks (and new files it does not ignore): a stale build/ or egg-info in the
# checkout cannot slip a file into the wheel, and untracked junk cannot either.
mkdir -p "$tmp/src"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) |
  tar -C "$ROOT" --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$tmp/src" -xf -
"$BUILDER" -m build --wheel --outdir "$tmp/dist" "$tmp/src" >"$tmp/build.log" 2>&1 || {
  cat "$tmp/build.log"; exit 1
}
wheel=("$tmp"/dist/siyu-*.whl)
echo "wheel: $(basename "${wheel[0]}") $(du -k "${wheel[0]}" | cut -f1) KiB, $(unzip -Z1 "${wheel[0]}" | wc -l) files"
if unzip -Z1 "${wheel[0]}" | grep -E '^tests/'; then
  echo "the wheel ships tests/"; exit 1
fi

"$PYTHON" -m venv "$tmp/venv"
pip=("$tmp/venv/bin/pip" --disable-pip-version-check -q)
"${pip[@]}" install "$TORCH"
"${pip[@]}" install -r "$ROOT/requirements.lock"
"${pip[@]}" install --no-deps "${wheel[0]}"
# The wheel's declared ranges must hold for the locked versions.
"${pip[@]}" check
echo "installed in $((SECONDS - started)) s"

mkdir -p "$tmp/run"
cp "$ROOT/scripts/wheel_smoke.py" "$tmp/run/"
cd "$tmp/run"
"$tmp/venv/bin/python" wheel_smoke.py "$tmp/src"
printf '全网最低价\n最大容量500ml\n' | "$tmp/venv/bin/siyu" copy check --json >"$tmp/check.jsonl"
"$tmp/venv/bin/python" - "$tmp/check.jsonl" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
assert [[v["term"] for v in r["violations"]] for r in rows] == [["全网最低价"], []], rows
print("siyu copy check ok: 全网最低价 flagged, 最大容量500ml clean")
EOF
echo "wheel smoke passed in $((SECONDS - started)) s"
