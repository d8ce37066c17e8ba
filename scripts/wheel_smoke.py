"""Smoke test for an installed siyu wheel; scripts/wheel_smoke.sh runs it from outside the checkout.

    python wheel_smoke.py SOURCE_TREE

Fails (exit 1) when siyu is imported from anywhere but the venv's site-packages, when a data file
of SOURCE_TREE's packages is missing from the installed wheel, or when an offline path that reads
package data breaks: Moments copy from the template library, the 广告法 check, the prompt files,
the Alembic migrations, the demo shop and the eval datasets.
"""

from __future__ import annotations

import importlib
import sys
import sysconfig
import tempfile
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

PACKAGES = ("api", "agents", "retrieval", "prompts", "evals", "store")
CODE_SUFFIXES = {".py", ".pyc"}


def check_installed_from_site_packages() -> None:
    site = Path(sysconfig.get_paths()["purelib"]).resolve()
    for name in PACKAGES:
        module_file = importlib.import_module(name).__file__
        assert module_file is not None, f"{name} is a namespace package: its __init__.py is not installed"
        assert site in Path(module_file).resolve().parents, f"{name} imported from {module_file}, not {site}"


def check_every_data_file_is_installed(source: Path) -> int:
    expected = [
        path.relative_to(source)
        for package in PACKAGES
        for path in (source / package).rglob("*")
        if path.is_file() and path.suffix not in CODE_SUFFIXES and "__pycache__" not in path.parts
    ]
    missing = [
        rel.as_posix() for rel in expected if not files(rel.parts[0]).joinpath(*rel.parts[1:]).is_file()
    ]
    assert not missing, f"{len(missing)} data files are not in the wheel: {missing}"
    return len(expected)


def check_moments_copy_offline() -> str:
    from agents.copywriter.compliance import check
    from agents.copywriter.generate import MomentsSpec, OfflineEngine, ProductInfo, measure, offline_variants
    from agents.copywriter.templates import default_library

    library = default_library()
    product = ProductInfo(
        sku="SMOKE-1",
        title="小鹿贝贝 新生儿纸尿裤 NB码 84片",
        category="母婴",
        subcategory="纸尿裤",
        brand="小鹿贝贝",
        price=Decimal("109.00"),
        attributes={"尺码": "NB码 (0-5kg)", "片数": "84片", "适用年龄": "0-1个月"},
        description="脐带护理凹槽设计，湿显尿显线提醒更换，新生儿娇嫩肌肤专用。",
    )
    spec = MomentsSpec(goal="种草", audience="宝妈", tone="亲切", variants=1)
    texts = offline_variants(OfflineEngine(library), [product], spec, seed=0)
    assert len(texts) == 1, f"expected one offline Moments variant, got {texts!r}"
    assert spec.met_by(measure(texts[0])), f"variant misses the spec: {texts[0]!r} {measure(texts[0])}"
    assert check(texts[0], product.rules).ok, f"variant fails the 广告法 check: {texts[0]!r}"
    return texts[0]


def check_advertising_law() -> None:
    from agents.copywriter.compliance import check

    report = check("全网最低价", "general")
    assert [v.term for v in report.violations] == ["全网最低价"], report
    assert check("最大容量500ml", "general").ok, "a plain capacity figure was flagged"


def check_prompts() -> int:
    from prompts import UNTRUSTED_DATA_RULE, load_prompt, render
    from prompts.loader import prompt_ids

    ids = prompt_ids()
    assert {"copywriter/moments", "customer_service/answer"} <= set(ids), ids
    for prompt_id in ids:
        load_prompt(prompt_id)
    moments = load_prompt("copywriter/moments")
    rendered = render(moments, {name: "示例" for name in moments.variable_names})
    assert UNTRUSTED_DATA_RULE in rendered.system and "<product_data>" in rendered.user, rendered
    return len(ids)


def check_migrations_and_demo_data() -> None:
    from agents.customer_service.intent import load_examples
    from agents.customer_service.schemas import default_keywords
    from store.demo.content import load_catalog, load_documents, load_faq
    from store.migrate import upgrade

    with tempfile.TemporaryDirectory() as tmp:
        upgrade(f"sqlite:///{tmp}/smoke.db")
    assert load_catalog() and load_faq() and len(load_documents()) > 1
    assert default_keywords() and load_examples()


def check_eval_datasets() -> None:
    from evals.suites import copy, cs, embedder, forecast, kb

    assert copy.load_all() and cs.load_all() and kb.load_questions() and embedder.load_pairs()
    ok, total, failures = forecast.check_cases(forecast.DATA / "restock_cases.jsonl")
    assert total and ok == total, failures


def main() -> None:
    source = Path(sys.argv[1]).resolve()
    check_installed_from_site_packages()
    data_files = check_every_data_file_is_installed(source)
    text = check_moments_copy_offline()
    check_advertising_law()
    prompts = check_prompts()
    check_migrations_and_demo_data()
    check_eval_datasets()
    sys.stdout.write(f"wheel smoke ok: {data_files} data files, {prompts} prompts, Moments copy:\n{text}\n")


if __name__ == "__main__":
    main()
