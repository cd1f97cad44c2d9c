"""Message generators for the six sample logs.

Each generator builds small pools once (seeded) and then renders event i from a 64-bit
hash of i, so a log of tens of millions of events costs no memory. Edge cases (embedded
quotes and newlines, non-ASCII text, a 64 KiB line, malformed CSV, empty messages) are
placed at fixed indices so that tests can find them and every run is identical.
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Sequence
from datetime import UTC, datetime

import orjson

HUGE_MESSAGE_BYTES = 70_000
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class _Clock:
    """Renders epoch ms in the few formats logs use, memoising the current second.

    Dense logs put many events in one second, so the memo makes most calls a compare.
    """

    def __init__(self, style: str) -> None:
        self._style = style
        # One tuple, replaced whole, so that threads never see a second with another's text.
        self._memo = (-1, "")

    def __call__(self, ts_ms: int) -> str:
        second, millis = divmod(ts_ms, 1000)
        memo = self._memo
        if memo[0] != second:
            memo = (second, self._render(second))
            self._memo = memo
        if self._style == "iso":
            return f"{memo[1]}.{millis:03d}Z"
        return memo[1]

    def _render(self, second: int) -> str:
        d = datetime.fromtimestamp(second, UTC)
        if self._style == "slashed":  # 2026/01/01 00:00:00, the firewall export style
            return d.strftime("%Y/%m/%d %H:%M:%S")
        if self._style == "syslog":  # Jan  1 00:00:00, RFC 3164 style
            return f"{_MONTHS[d.month - 1]} {d.day:2d} {d:%H:%M:%S}"
        if self._style == "date,time":  # two CSV columns
            return d.strftime("%Y-%m-%d,%H:%M:%S")
        return d.strftime("%Y-%m-%dT%H:%M:%S")  # iso; millis and Z appended by __call__


def csv_field(value: str) -> str:
    """Quote a CSV field the way RFC 4180 writers do: only when it needs it."""
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def csv_line(fields: Sequence[str]) -> str:
    return ",".join(csv_field(f) for f in fields)


def _ips(rng: random.Random, count: int, prefix: str) -> list[str]:
    return [f"{prefix}.{rng.randrange(256)}.{rng.randrange(1, 255)}" for _ in range(count)]


def spread(count: int, specials: Sequence[str], first: int = 1) -> dict[int, str]:
    """Place `specials` at evenly spaced indices in `[first, count)`, dropping what does not fit."""
    placed: dict[int, str] = {}
    slots = len(specials) + 1
    for number, message in enumerate(specials, start=1):
        index = first + (number * (count - first)) // slots
        if first <= index < count and index not in placed:
            placed[index] = message
    return placed


STAMP = "@@STAMP@@"
POOL_BITS = 10
_POOL_MASK = (1 << POOL_BITS) - 1


class MessageSource:
    """Renders message i of one log.

    Rendering a line field by field costs microseconds, so each source renders a pool of
    lines once with a placeholder timestamp and splits them around it; message i glues
    the head of one pooled line, its timestamp and the tail of another, picked by hash
    bits. Subclasses set `name`, `stamp_style`, fill `specials` and implement `render`.
    """

    name = ""
    stamp_style = "iso"
    # Heads and tails of different pooled lines combine well unless the line's shape
    # depends on what comes before the timestamp (syslog priority vs. Apache bracket).
    mix_head_and_tail = True

    def __init__(self, seed: int, count: int) -> None:
        self.seed = seed
        self.rng = random.Random(f"{seed}:{self.name}")
        self.count = count
        self.clock = _Clock(self.stamp_style)
        self.specials: dict[int, str] = {}
        self._specials_json: dict[int, str] = {}
        self._pools: dict[int, list[tuple[str, str]]] = {}
        self._json_pools: dict[int, list[tuple[str, str]]] = {}

    def variant(self, index: int) -> int:
        """Which pool event `index` draws from; logs whose shape changes override this."""
        return 0

    def pool(self, variant: int) -> list[tuple[str, str]]:
        pool = self._pools.get(variant)
        if pool is None:
            pool = _pool(self.name, self.seed, variant)
            self._pools[variant] = pool
        return pool

    def json_pool(self, variant: int) -> list[tuple[str, str]]:
        pool = self._json_pools.get(variant)
        if pool is None:
            pool = _json_pool(self.name, self.seed, variant)
            self._json_pools[variant] = pool
        return pool

    def message(self, index: int, bits: int, ts_ms: int) -> str:
        special = self.specials.get(index)
        if special is not None:
            return special
        pool = self._pools.get(self.variant(index)) or self.pool(self.variant(index))
        tail_bits = bits >> POOL_BITS if self.mix_head_and_tail else bits
        return pool[bits & _POOL_MASK][0] + self.clock(ts_ms) + pool[tail_bits & _POOL_MASK][1]

    def message_json(self, index: int, bits: int, ts_ms: int) -> str:
        """`message` already escaped for a JSON string (without the quotes): the fast path."""
        if index in self.specials:
            escaped = self._specials_json.get(index)
            if escaped is None:
                escaped = json_escaped(self.specials[index])
                self._specials_json[index] = escaped
            return escaped
        pool = self._json_pools.get(self.variant(index)) or self.json_pool(self.variant(index))
        tail_bits = bits >> POOL_BITS if self.mix_head_and_tail else bits
        return pool[bits & _POOL_MASK][0] + self.clock(ts_ms) + pool[tail_bits & _POOL_MASK][1]

    def render(self, variant: int, bits: int, stamp: str) -> str:
        raise NotImplementedError


@functools.lru_cache(maxsize=64)
def _pool(name: str, seed: int, variant: int) -> list[tuple[str, str]]:
    """Lines split around the timestamp; cached so that every emulator in a test run shares them."""
    renderer = SOURCES[name](seed, 1)
    rng = random.Random(f"{seed}:{name}:pool:{variant}")
    pool = []
    for _ in range(1 << POOL_BITS):
        head, _, tail = renderer.render(variant, rng.getrandbits(64), STAMP).partition(STAMP)
        pool.append((head, tail))
    return pool


@functools.lru_cache(maxsize=64)
def _json_pool(name: str, seed: int, variant: int) -> list[tuple[str, str]]:
    """The same pool, escaped once for JSON; timestamps never need escaping."""
    return [(json_escaped(head), json_escaped(tail)) for head, tail in _pool(name, seed, variant)]


def json_escaped(text: str) -> str:
    """`text` as the inside of a JSON string, non-ASCII as \\u escapes.

    Pure-ASCII text keeps Python's compact string representation, so gluing and encoding
    a page stays a memory copy; a JSON decoder yields the same message either way.
    """
    return json.dumps(text, ensure_ascii=True)[1:-1]


class FirewallTraffic(MessageSource):
    """CSV export of a next-generation firewall: header first, 16 typed columns."""

    name = "firewall-traffic"
    stamp_style = "slashed"
    HEADER = (
        "receive_time,serial,type,subtype,src_ip,dst_ip,src_port,dst_port,protocol,"
        "action,bytes_sent,bytes_received,duration_s,rule_name,is_encrypted,app_description"
    )

    def __init__(self, seed: int, count: int) -> None:
        super().__init__(seed, count)
        self.src = _ips(self.rng, 64, "10.1")
        self.dst = _ips(self.rng, 64, "172.16")
        self.rules = [
            csv_field(r)
            for r in ("allow-web", "Allow, outbound web", "deny-all", "dns", "", "Block, P2P")
        ]
        self.apps = [
            csv_field(a)
            for a in ("web-browsing", 'HTTP "GET" traffic, port 80', "ssl", "", "dns, udp")
        ]
        self.specials = spread(
            count,
            [
                self._row('Multi-line\nrule with "quotes", commas'),
                self._row("Règle spéciale — 防火墙 ✓"),
                '2026/01/01 00:00:00,0001,TRAFFIC,end,10.0.0.1,"unbalanced quote,443',
                "2026/01/01 00:00:00,0001,TRAFFIC,end,10.0.0.1,172.16.0.1,extra,,fields,too,many,"
                "a,b,c,d,e,f,g,h",
            ],
        )
        self.specials[0] = self.HEADER

    def _row(self, rule: str) -> str:
        start = ("2026/01/01 00:00:00", "0001", "TRAFFIC", "end", "10.0.0.1", "172.16.0.1")
        return csv_line(
            [*start, "1234", "443", "tcp", "allow", "10", "20", "0.5", rule, "true", "ssl"]
        )

    def render(self, variant: int, bits: int, stamp: str) -> str:
        return ",".join(
            (
                stamp,
                f"{bits % 9000 + 1000:04d}",
                "TRAFFIC",
                ("end", "start", "drop", "deny")[bits >> 4 & 3],
                self.src[bits >> 6 & 63],
                self.dst[bits >> 12 & 63],
                str(1024 + (bits >> 18 & 0xFFFF) % 64000),
                ("443", "80", "53", "22", "3389", "8443", "25", "123")[bits >> 34 & 7],
                ("tcp", "udp", "icmp", "")[bits >> 37 & 3],
                ("allow", "deny", "drop", "reset-both")[bits >> 39 & 3],
                str(bits >> 41 & 0xFFFFF),
                str(bits >> 20 & 0x3FFFFF),
                f"{(bits >> 44 & 0xFFFF) / 1000:.3f}",
                self.rules[(bits >> 50) % len(self.rules)],
                ("true", "false")[bits >> 53 & 1],
                self.apps[(bits >> 54) % len(self.apps)],
            )
        )


class CdnAccess(MessageSource):
    """CDN access log as CSV with no header line at all."""

    name = "cdn-access-noheader"
    stamp_style = "date,time"
    PREFIX = ("2026-01-01", "00:00:00", "FRA50-C1", "512", "203.0.0.1", "GET", "cdn.example.com")

    def __init__(self, seed: int, count: int) -> None:
        super().__init__(seed, count)
        self.clients = _ips(self.rng, 128, "203.0")
        self.edges = ["FRA50-C1", "IAD89-P2", "NRT12-C3", "SYD1-C1", "GRU3-P1"]
        self.paths = ["/", "/index.html", "/static/app.js", "/img/logo.png", "/api/v2/items?id=7"]
        self.agents = [
            csv_field(a)
            for a in (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
                "curl/8.5.0",
                "Go-http-client/1.1",
                "",
            )
        ]
        self.specials = spread(
            count,
            [
                csv_line([*self.PREFIX, "/café/naïve-ünïcödé", "200", "", "Bot\n2.0", "0.001"]),
                csv_line([*self.PREFIX, "/", "200", "", 'say "hi", bot', "0.001"]),
            ],
            first=0,
        )

    def render(self, variant: int, bits: int, stamp: str) -> str:
        return ",".join(
            (
                stamp,
                self.edges[bits % 5],
                str(bits >> 3 & 0xFFFFF),
                self.clients[bits >> 23 & 127],
                ("GET", "GET", "GET", "HEAD", "POST", "GET", "OPTIONS", "GET")[bits >> 30 & 7],
                "cdn.example.com",
                self.paths[(bits >> 33) % 5],
                ("200", "200", "304", "404", "200", "206", "503", "200")[bits >> 36 & 7],
                ("", "https://example.com/", "-", "")[bits >> 39 & 3],
                self.agents[bits >> 41 & 3],
                f"{(bits >> 43 & 0xFFF) / 1000:.3f}",
            )
        )


class VpnSessions(MessageSource):
    """VPN session CSV whose header gains a column half-way; the new header is an event."""

    name = "vpn-sessions"
    HEADER_V1 = "session_id,user,src_ip,assigned_ip,start_time,duration_s,bytes_in,bytes_out"
    HEADER_V2 = HEADER_V1 + ",mfa_method"

    def __init__(self, seed: int, count: int) -> None:
        super().__init__(seed, count)
        self.users = ["alice", "bob", "carol", "dave", "Zoë Ångström", "eve", "mallory", "trent"]
        self.src = _ips(self.rng, 64, "198.51")
        self.change_at = count // 2
        self.specials = {0: self.HEADER_V1}
        if 0 < self.change_at < count:
            self.specials[self.change_at] = self.HEADER_V2

    def variant(self, index: int) -> int:
        return 1 if index > self.change_at else 0

    def render(self, variant: int, bits: int, stamp: str) -> str:
        line = ",".join(
            (
                f"s-{bits & 0xFFFFFFFF:08x}",
                self.users[bits >> 32 & 7],
                self.src[bits >> 35 & 63],
                f"10.8.{bits >> 41 & 255}.{bits >> 49 & 255}",
                stamp,
                str(bits >> 20 & 0x3FFF),
                str(bits >> 8 & 0xFFFFFF),
                str(bits >> 28 & 0xFFFFF),
            )
        )
        if variant == 1:
            line += "," + ("push", "totp", "", "webauthn")[bits >> 57 & 3]
        return line


class IdrAuthJson(MessageSource):
    """InsightIDR-style authentication events: JSON text with nested objects."""

    name = "idr-auth-json"

    def __init__(self, seed: int, count: int) -> None:
        super().__init__(seed, count)
        self.users = ["alice", "bob", "svc_backup", "Administrator", "josé.garcía", "李雷"]
        self.assets = ["jenkinsnode.example.co", "dc01.corp.local", "WindowsX64", "mac-0042"]
        self.sources = _ips(self.rng, 64, "10.20")
        self.specials = spread(
            count,
            [
                orjson.dumps(
                    {"timestamp": "2026-01-01T00:00:00.000Z", "user": "Ünïcødé 用户 🚀"}
                ).decode(),
                '{"timestamp":"2026-01-01T00:00:00.000Z","note":"line one\\nline \\"two\\""}',
            ],
        )

    def render(self, variant: int, bits: int, stamp: str) -> str:
        user = self.users[bits % 6]
        asset = self.assets[bits >> 3 & 3]
        event = {
            "timestamp": stamp,
            "destination_asset": asset,
            "source_asset_address": self.sources[bits >> 5 & 63],
            "user": user,
            "account": user.lower(),
            "logon_type": ("NETWORK", "INTERACTIVE", "REMOTE_INTERACTIVE", "SERVICE")[
                bits >> 11 & 3
            ],
            "result": ("SUCCESS", "SUCCESS", "FAILED_BAD_PASSWORD", "FAILED_OTHER")[bits >> 13 & 3],
            "service": ("kerberos", "ntlm", "ldap")[(bits >> 15) % 3],
            "attempts": bits >> 20 & 7,
            "risk_score": round((bits >> 23 & 0x3FF) / 10.23, 2),
            "new_location": bool(bits >> 33 & 1),
            "r7_context": {
                "asset": {"name": asset.lower(), "type": "endpoint"},
                "user": {"name": user, "domain": "CORP"},
            },
            "geoip": {"country_code": ("US", "DE", "JP", "BR")[bits >> 34 & 3]},
        }
        return orjson.dumps(event).decode()


class AppKv(MessageSource):
    """Application logs as key=value pairs, some values quoted with spaces."""

    name = "app-kv"

    def __init__(self, seed: int, count: int) -> None:
        super().__init__(seed, count)
        self.services = ["checkout", "cart", "auth", "search", "inventory"]
        self.notes = [
            '"order placed successfully"',
            '"payment declined by issuer"',
            "ok",
            '"cache miss, fetching from origin"',
            '"user said \\"hello\\""',
        ]
        self.specials = spread(
            count,
            [
                'level=WARN service=checkout msg="Überweisung fehlgeschlagen — 支付失败" user_id=7',
                "level=INFO service=auth msg= empty_value= user_id=",
            ],
        )

    def render(self, variant: int, bits: int, stamp: str) -> str:
        return (
            f"ts={stamp} level={('INFO', 'INFO', 'WARN', 'ERROR', 'DEBUG', 'INFO', 'INFO', 'INFO')[bits & 7]}"
            f" service={self.services[(bits >> 3) % 5]} user_id={bits >> 8 & 0xFFFF}"
            f" latency_ms={(bits >> 24 & 0xFFFF) / 100:.2f} status={('200', '200', '201', '404', '500', '200', '302', '200')[bits >> 40 & 7]}"
            f" path=/api/v1/{('orders', 'items', 'users', 'login')[bits >> 43 & 3]}"
            f" msg={self.notes[(bits >> 45) % 5]} retry={('true', 'false')[bits >> 48 & 1]}"
        )


class SyslogText(MessageSource):
    """Plain text lines: syslog and web-server error log style, plus a 64 KiB trace."""

    name = "syslog-text"
    stamp_style = "syslog"
    mix_head_and_tail = False

    def __init__(self, seed: int, count: int) -> None:
        super().__init__(seed, count)
        self.hosts = ["web-01", "web-02", "db-01", "bastion"]
        self.clients = _ips(self.rng, 32, "192.0")
        frames = "".join(
            f"\n    at com.example.Frame{n}.call(Frame{n}.java:{n})" for n in range(2000)
        )
        huge = "java.lang.IllegalStateException: boom" + frames
        huge += "\n" + "x" * max(0, HUGE_MESSAGE_BYTES - len(huge.encode()))
        self.specials = spread(count, ["", huge, "kernel: Ünïcode ïn thé kërnel — 日本語 ✓", ""])

    def render(self, variant: int, bits: int, stamp: str) -> str:
        kind = bits & 3
        if kind == 3:
            return (
                f"[{stamp} 2026] [core:error] [pid {bits >> 2 & 0x7FFF}]"
                f" [client {self.clients[bits >> 17 & 31]}:{bits >> 22 & 0xFFFF}]"
                " AH00126: Invalid URI in request GET /..%2f..%2fetc/passwd HTTP/1.1"
            )
        host = self.hosts[bits >> 2 & 3]
        pid = bits >> 4 & 0x7FFF
        client = self.clients[bits >> 19 & 31]
        if kind == 0:
            return f"<38>{stamp} {host} sshd[{pid}]: Failed password for invalid user admin from {client} port {bits >> 24 & 0xFFFF} ssh2"
        if kind == 1:
            return f"<86>{stamp} {host} sshd[{pid}]: Accepted publickey for deploy from {client} port {bits >> 24 & 0xFFFF} ssh2"
        return (
            f"<30>{stamp} {host} systemd[1]: Started Session {bits >> 24 & 0xFFFF} of user deploy."
        )


SOURCES: dict[str, type[MessageSource]] = {
    source.name: source
    for source in (FirewallTraffic, CdnAccess, VpnSessions, IdrAuthJson, AppKv, SyslogText)
}
