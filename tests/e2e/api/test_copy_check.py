from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli import app as cli_app
from store.models import Role
from tests.conftest import ShopKeys

pytestmark = pytest.mark.e2e


def test_owner_gets_violations_and_a_fixed_text(client: TestClient, shop_a: ShopKeys) -> None:
    r = client.post("/v1/copy/check", json={"text": "✨最✨好用的锅，国 家 级品质"}, headers=shop_a.headers())
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False
    assert [(v["term"], v["matched"], v["start"], v["end"]) for v in body["violations"]] == [
        ("最好用", "最✨好用", 1, 5),
        ("国家级", "国 家 级", 8, 13),
    ]
    assert body["violations"][1]["category"] == "权威背书/国家机关"
    assert body["fixed"] == "✨超好用的锅，国 家 级品质"
    assert body["category"] == "general"
    assert body["lexicon_version"] == "ad_lexicon.v2"


def test_cs_staff_may_check_and_category_changes_the_verdict(client: TestClient, shop_a: ShopKeys) -> None:
    text = {"text": "美白精华，28天见证"}
    general = client.post("/v1/copy/check", json=text, headers=shop_a.headers(Role.agent)).json()
    special = client.post(
        "/v1/copy/check", json=text | {"category": "cosmetics_special"}, headers=shop_a.headers(Role.agent)
    ).json()
    assert [v["term"] for v in general["violations"]] == ["美白"]
    assert special == special | {"ok": True, "violations": []}


def test_clean_spec_text_is_ok(client: TestClient, shop_a: ShopKeys) -> None:
    body = client.post(
        "/v1/copy/check", json={"text": "最大容量500ml，第一步先烫杯"}, headers=shop_a.headers()
    ).json()
    assert body == body | {"ok": True, "violations": [], "fixed": "最大容量500ml，第一步先烫杯"}


def test_auth_and_validation(client: TestClient, shop_a: ShopKeys) -> None:
    assert client.post("/v1/copy/check", json={"text": "最好"}).status_code == 401
    r = client.post("/v1/copy/check", json={"text": "最好"}, headers=shop_a.headers(Role.service))
    assert (r.status_code, r.json()["error"]) == (403, "forbidden")
    r = client.post("/v1/copy/check", json={"text": "最好", "category": "toys"}, headers=shop_a.headers())
    assert (r.status_code, r.json()["error"]) == (422, "validation_error")
    assert "category" in r.json()["detail"]
    r = client.post("/v1/copy/check", json={"text": ""}, headers=shop_a.headers())
    assert r.status_code == 422


def test_cli_prints_one_json_object_per_line_from_stdin() -> None:
    result = CliRunner().invoke(cli_app, ["copy", "check", "--json"], input="全网最低价\n\n最大容量500ml\n")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["text"] for line in lines] == ["全网最低价", "最大容量500ml"]
    (violation,) = lines[0]["violations"]
    assert set(violation) == {"term", "category", "start", "end", "article", "severity", "suggestion"}
    assert (violation["term"], violation["start"], violation["end"]) == ("全网最低价", 0, 5)
    assert lines[0]["fixed"] == "优惠价"
    assert lines[1] == {"text": "最大容量500ml", "violations": [], "fixed": "最大容量500ml"}


def test_cli_reads_a_gbk_file_and_honours_the_category(tmp_path: Path) -> None:
    path = tmp_path / "posts.txt"
    path.write_bytes("有助于增强免疫力\n".encode("gbk"))
    health = CliRunner().invoke(cli_app, ["copy", "check", str(path), "--category", "health", "--json"])
    food = CliRunner().invoke(cli_app, ["copy", "check", str(path), "--category", "food", "--json"])
    assert json.loads(health.stdout)["violations"] == []
    assert [v["term"] for v in json.loads(food.stdout)["violations"]] == ["增强免疫力"]


def test_cli_rejects_an_unknown_category() -> None:
    result = CliRunner().invoke(cli_app, ["copy", "check", "--category", "toys"], input="x\n")
    assert result.exit_code == 2
