"""Outbound URL safety: which addresses a webhook may reach, with an injected resolver (no DNS)."""

from __future__ import annotations

from collections.abc import Sequence

import httpx2
import pytest

from agents import outbound
from agents.outbound import OutboundURLRefused, check_url


def resolver(table: dict[str, list[str]]) -> outbound.Resolver:
    def resolve(host: str, port: int) -> Sequence[str]:
        if host not in table:
            raise OSError("Name or service not known")
        return table[host]

    return resolve


PUBLIC = resolver({"hooks.example.com": ["93.184.216.34"]})


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://127.0.0.1:8000/hook", "回环"),
        ("http://127.8.9.10/hook", "回环"),
        ("http://[::1]/hook", "回环"),
        ("http://10.1.2.3/hook", "私有"),
        ("http://172.16.0.9/hook", "私有"),
        ("http://192.168.1.1/hook", "私有"),
        ("http://169.254.169.254/latest/meta-data/", "元数据"),
        ("http://[fe80::1]/hook", "链路本地"),
        ("http://[fd00:ec2::254]/hook", "私有"),
        ("http://[::ffff:127.0.0.1]/hook", "回环"),
        ("http://[::ffff:10.0.0.1]/hook", "私有"),
        ("http://0.0.0.0/hook", "未指定"),
        ("http://100.64.0.1/hook", "非公网"),
        ("http://224.0.0.1/hook", "组播"),
    ],
)
def test_non_public_addresses_are_refused(url: str, why: str) -> None:
    with pytest.raises(OutboundURLRefused) as info:
        check_url(url, allow=(), resolver=PUBLIC)
    assert why in info.value.detail and info.value.status == 400


def test_a_public_host_passes() -> None:
    check_url("https://hooks.example.com/siyu", allow=(), resolver=PUBLIC)
    check_url("http://93.184.216.34:8080/x", allow=(), resolver=PUBLIC)


def test_a_name_resolving_to_a_private_address_is_refused_even_if_another_is_public() -> None:
    rebinding = resolver({"evil.example": ["93.184.216.34", "127.0.0.1"]})
    with pytest.raises(OutboundURLRefused, match="回环"):
        check_url("https://evil.example/x", allow=(), resolver=rebinding)


def test_scheme_host_and_resolution_errors_are_named() -> None:
    with pytest.raises(OutboundURLRefused, match="http 或 https"):
        check_url("file:///etc/passwd", allow=(), resolver=PUBLIC)
    with pytest.raises(OutboundURLRefused, match="缺少主机名"):
        check_url("http:///x", allow=(), resolver=PUBLIC)
    with pytest.raises(OutboundURLRefused, match="无法解析"):
        check_url("https://nowhere.invalid/x", allow=(), resolver=PUBLIC)


def test_the_allow_list_takes_hosts_and_cidrs_and_nothing_more() -> None:
    internal = resolver({"crm.internal": ["10.20.0.7"]})
    check_url("http://127.0.0.1:9/x", allow=["127.0.0.1"], resolver=internal)
    check_url("http://crm.internal/x", allow=["crm.internal"], resolver=internal)
    check_url("http://crm.internal/x", allow=["10.20.0.0/16"], resolver=internal)
    with pytest.raises(OutboundURLRefused):
        check_url("http://10.21.0.1/x", allow=["10.20.0.0/16"], resolver=internal)
    with pytest.raises(OutboundURLRefused):
        check_url("http://127.0.0.2/x", allow=["127.0.0.1"], resolver=internal)


def _client(routes: dict[str, httpx2.Response]) -> tuple[httpx2.Client, list[str]]:
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(str(request.url))
        return routes[str(request.url)]

    return httpx2.Client(transport=httpx2.MockTransport(handler), follow_redirects=False), seen


def _post(client: httpx2.Client) -> httpx2.Response:
    return outbound.post(
        client, "https://hooks.example.com/a", content=b"{}", headers={}, timeout=1, allow=(), resolver=PUBLIC
    )


def test_a_redirect_to_a_private_address_is_refused_before_it_is_requested() -> None:
    client, seen = _client(
        {"https://hooks.example.com/a": httpx2.Response(307, headers={"location": "http://10.0.0.8/steal"})}
    )
    with client, pytest.raises(OutboundURLRefused, match="私有"):
        _post(client)
    assert seen == ["https://hooks.example.com/a"]


def test_a_public_307_is_followed_and_a_302_is_the_answer() -> None:
    client, seen = _client(
        {
            "https://hooks.example.com/a": httpx2.Response(308, headers={"location": "/b"}),
            "https://hooks.example.com/b": httpx2.Response(302, headers={"location": "http://10.0.0.8/"}),
        }
    )
    with client:
        r = _post(client)
    assert r.status_code == 302
    assert seen == ["https://hooks.example.com/a", "https://hooks.example.com/b"]


def test_redirect_loops_stop() -> None:
    client, seen = _client({"https://hooks.example.com/a": httpx2.Response(307, headers={"location": "/a"})})
    with client, pytest.raises(OutboundURLRefused, match="重定向"):
        _post(client)
    assert len(seen) == outbound.MAX_REDIRECTS + 1
