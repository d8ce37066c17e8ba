"""Outbound URL safety: siyu POSTs only to public addresses a shop owner could not abuse.

A shop owner's key can set a webhook URL (and, later, channel endpoints). Without a check that
key could make the server call its own loopback services, the private network it sits in or a
cloud metadata endpoint (server-side request forgery). So every outbound URL is checked:

    check_url("http://10.0.0.5/hook", allow=())   -> OutboundURLRefused (私有网络地址)
    check_url("https://hooks.example.com/x", allow=()) -> resolves; every address must be global

- when it is saved (the owner gets a clear 400 at once),
- before every request (DNS answers change), and
- on every redirect hop (`post`, which follows 307/308 itself, at most `MAX_REDIRECTS`).

An address passes only if `ipaddress` calls it global: loopback, private (10/8, 172.16/12,
192.168/16, fc00::/7), link-local (169.254/16 with the 169.254.169.254 metadata service,
fe80::/10), shared (100.64/10), multicast, reserved and unspecified addresses are refused, IPv4
addresses mapped into IPv6 included. `SIYU_OUTBOUND_ALLOW` lists exceptions, each a host name or
an address/CIDR (tests and local demos allow 127.0.0.1 this way; the check is never switched off).

Residual risk, stated rather than hidden: the address is checked, then httpx2 resolves the name
again to connect, so a DNS server that answers differently within that window (rebinding) could
still steer one request. Pinning the checked address into the connection would close it; the
webhook body is signed and carries no secret of ours, which limits what such a request can do.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from urllib.parse import urljoin, urlsplit

import httpx2

from store.errors import SiyuError

MAX_REDIRECTS = 3
# Only these keep the method and body of a signed POST; a 301/302/303 is returned as the answer.
_FOLLOWED = frozenset({307, 308})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Sequence[str]]


class OutboundURLRefused(SiyuError):
    code = "outbound_url_refused"
    status = 400
    default_detail = "该地址不允许作为回调地址"


def resolve(host: str, port: int) -> list[str]:
    """Every address the host name resolves to (A and AAAA)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _why_not_public(ip: IPAddress) -> str | None:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return _why_not_public(ip.ipv4_mapped)
    if ip.is_unspecified:
        return "未指定地址 (连接时即本机)"
    if ip.is_loopback:
        return "本机回环地址"
    if ip.is_link_local:
        return "链路本地地址 (含云服务器元数据地址)"
    if ip.is_private:
        return "私有网络地址"
    if ip.is_multicast:
        return "组播地址"
    if ip.is_reserved or not ip.is_global:
        return "保留或非公网地址"
    return None


def _allowed(host: str, addresses: Iterable[IPAddress], allow: Sequence[str]) -> bool:
    if host.lower() in {entry.lower() for entry in allow}:
        return True
    networks = []
    for entry in allow:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            continue  # a host name entry, matched above
    addresses = list(addresses)
    return bool(networks) and all(any(ip in net for net in networks) for ip in addresses)


def _addresses(host: str, port: int, resolver: Resolver) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass  # a host name: resolve it
    try:
        # Drop an IPv6 zone id (fe80::1%eth0): the address alone decides.
        found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in resolver(host, port)]
    except OSError:
        found = []
    if not found:
        raise OutboundURLRefused(f"无法解析回调地址的主机名 {host!r}，请检查拼写")
    return found


def check_url(url: str, allow: Sequence[str], *, resolver: Resolver = resolve) -> None:
    """Raise `OutboundURLRefused` (Chinese detail naming the reason) unless every address of the
    URL's host is public or allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise OutboundURLRefused(f"回调地址只支持 http 或 https，收到 {url!r}")
    host = parts.hostname
    if not host:
        raise OutboundURLRefused(f"回调地址缺少主机名: {url!r}")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise OutboundURLRefused(f"回调地址的端口无效: {url!r}") from exc
    addresses = _addresses(host, port, resolver)
    if _allowed(host, addresses, allow):
        return
    for ip in addresses:
        if (why := _why_not_public(ip)) is not None:
            raise OutboundURLRefused(
                f"回调地址 {host!r} 指向{why} {ip}，不允许调用；请填写公网可访问的地址"
                "（确需内网地址时由运维在 SIYU_OUTBOUND_ALLOW 中放行）"
            )


def post(
    client: httpx2.Client,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout: float,
    allow: Sequence[str],
    resolver: Resolver = resolve,
) -> httpx2.Response:
    """POST after checking the URL; follow 307/308 redirects only after checking each target."""
    for _ in range(MAX_REDIRECTS + 1):
        check_url(url, allow, resolver=resolver)
        response = client.post(url, content=content, headers=dict(headers), timeout=timeout)
        location = response.headers.get("location")
        if response.status_code not in _FOLLOWED or not location:
            return response
        url = urljoin(url, location)
    raise OutboundURLRefused(f"回调地址重定向超过 {MAX_REDIRECTS} 次")
