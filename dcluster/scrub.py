"""The one scrubber: no credential leaves dcluster in a log line, an event, a runner result or state.json.

Two kinds of masking, both applied by :func:`text` (a string) and :func:`data`
(dicts/lists, recursively):

* **Known values**, in every encoding an SDK, an HTTP library or a server may
  show them in: plain; as a whole with any whitespace when they contain
  spaces; URL-encoded (``quote``, ``quote(safe='')``, ``quote_plus``, either
  hex case); JSON-escaped (``ensure_ascii`` on and off); XML/HTML-escaped;
  Python ``repr``/bytes-repr escaped (and those escapes escaped once more, as
  a JSON body inside a log line shows them); base64 (standard and urlsafe,
  of the UTF-8 and Latin-1 bytes) at *any* byte alignment, so a secret inside
  ``base64("user:secret")`` is found; a known value cut off at the very end
  of a text (messages are truncated).
* **Unknown credentials** by their shape: ``Authorization``/``Proxy-Authorization``
  values (Basic, Bearer, Digest, AWS4-HMAC-SHA256), standalone ``Basic``
  (when it decodes to ``user:pass``)/``Bearer`` tokens, ``key=value``,
  ``"key": "value"``, ``key: value`` and ``<key>value</key>`` for
  credential-like keys (quoted multi-word values included), URL userinfo
  passwords (plain and percent-encoded), AWS access key ids, private keys (PEM
  blocks, and base64 blobs that hold one, such as a worker's user-data).

The known values come from :data:`REGISTRY`, which the controller updates on
each configuration load (:func:`known_values` says which), plus any passed in
by the caller.  Nothing here imports Salt or the rest of dcluster: the log
filter runs on every record and must not fail.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any

REDACTED = "********"  # the same mask as dcluster.config.secret.REDACTED (not imported: see above)

MIN_LEN = 4  # a shorter value masked everywhere would garble messages and protects nothing
MIN_PLAIN_ENV = 6  # command_env values under ordinary keys (paths, ports) are masked from this length
MIN_B64_CORE = 6  # base64 chars a known value must fully determine before its encoding is looked for
KEEP = 3600.0  # seconds a rotated secret is still masked (late messages from calls made with it)

_B64_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_%")

# ------------------------------------------------------------------ which keys hold credentials
_CRED_PARTS = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "signature",
    "apikey",
    "accesskey",
    "privatekey",
    "sessionkey",
    "authorization",
    "cookie",
)
_CRED_WORDS = {"pwd", "auth", "pass", "psk"}
# A key naming *where* or *what kind of* credential, not the credential itself.
_NOT_CRED_LAST = {
    "url",
    "uri",
    "endpoint",
    "file",
    "path",
    "type",
    "method",
    "methods",
    "plugin",
    "name",
    "domain",
    "dir",
    "expires",
    "expiry",
    "expiration",
    "length",
    "policy",
    "mode",
    "ttl",
    "algorithm",
    "version",
    "kind",
    "required",
    "enabled",
    "hint",
    "store",
    "format",
    "count",
}


@functools.lru_cache(maxsize=4096)
def is_credential_key(name: Any) -> bool:
    """True for keys such as ``password``, ``X-Auth-Token``, ``SecretAccessKey``, ``api_key``; not ``auth_url``."""
    if not isinstance(name, str) or not name:
        return False
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name.strip("\"'\\ "))
    words = [w for w in re.split(r"[^a-z0-9]+", spaced.lower()) if w]
    if not words or words[-1] in _NOT_CRED_LAST:
        return False
    joined = "".join(words)
    return any(p in joined for p in _CRED_PARTS) or any(w in _CRED_WORDS for w in words)


# ------------------------------------------------------------------ encodings of one known value
def _bytes_forms(value: str) -> list[bytes]:
    out = [value.encode("utf-8")]
    try:
        latin = value.encode("latin-1")  # requests encodes Basic-auth str credentials as Latin-1
    except UnicodeEncodeError:
        latin = None
    if latin is not None and latin not in out:
        out.append(latin)
    return out


def _escapes(v: str) -> list[str]:
    """The ways one string is shown escaped inside JSON, XML/HTML, repr and URLs."""
    out = [
        v,
        json.dumps(v)[1:-1],
        json.dumps(v, ensure_ascii=False)[1:-1],
        html.escape(v),
        html.escape(v, quote=False),
        html.escape(v).replace("&#x27;", "&#39;"),
        html.escape(v).replace("&#x27;", "&apos;"),
        html.escape(v, quote=False).encode("ascii", "xmlcharrefreplace").decode(),
        repr(v)[1:-1],
        v.replace("\\", "\\\\").replace("'", "\\'"),
        repr(v.encode("utf-8"))[2:-1],
        urllib.parse.quote(v),
        urllib.parse.quote(v, safe=""),
        urllib.parse.quote_plus(v),
        urllib.parse.quote_plus(v, safe="/"),
    ]
    for b in _bytes_forms(v)[1:]:
        out.append(urllib.parse.quote(b, safe=""))
        out.append(urllib.parse.quote_plus(b))
    return out


def _lower_hex(s: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), s)


@functools.lru_cache(maxsize=1024)
def forms(value: str) -> tuple[str, ...]:
    """Every literal form of ``value`` to mask (longest first)."""
    first = _escapes(value)
    seen: set[str] = set()
    for f in first:
        # one more level: a JSON body shown in a repr, a JSON log line, an XML error or a URL-encoded echo
        for g in (
            f,
            f.replace("\\", "\\\\"),
            json.dumps(f)[1:-1],
            repr(f.encode("utf-8"))[2:-1],
            html.escape(f),
            html.escape(f, quote=False),
            urllib.parse.quote(f),
            urllib.parse.quote(f, safe=""),
            urllib.parse.quote_plus(f),
        ):
            for h in (g, _lower_hex(g)):
                if len(h) >= MIN_LEN:
                    seen.add(h)
    return tuple(sorted(seen, key=len, reverse=True))


def _b64_core(data: bytes, shift: int, urlsafe: bool) -> str:
    """The base64 characters fully determined by ``data`` when it starts ``shift`` bytes into a 3-byte group."""
    enc = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(b"\0" * shift + data + b"\0\0")
    first = -(-8 * shift // 6)  # first 6-bit group that starts inside data
    last = (8 * (shift + len(data))) // 6  # groups [first, last) end inside data
    return enc[first:last].decode("ascii")


@functools.lru_cache(maxsize=1024)
def b64_cores(value: str) -> tuple[str, ...]:
    """Alignment-independent cores of ``value``'s base64 encodings, plain and URL-quoted."""
    out: set[str] = set()
    for data in _bytes_forms(value):
        for shift in range(3):
            for urlsafe in (False, True):
                core = _b64_core(data, shift, urlsafe)
                if len(core) >= MIN_B64_CORE:
                    out.add(core)
                    out.add(urllib.parse.quote(core, safe=""))
                    out.add(_lower_hex(urllib.parse.quote(core, safe="")))
    return tuple(sorted(out, key=len, reverse=True))


@functools.lru_cache(maxsize=1024)
def _spaced(value: str) -> re.Pattern[str] | None:
    """A multi-word value with any whitespace (a wrapped or re-spaced passphrase)."""
    words = value.split()
    if len(words) < 2:
        return None
    return re.compile(r"\s+".join(re.escape(w) for w in words))


# ------------------------------------------------------------------ the registry of known values
class Registry:
    """The secret values the running configuration holds, and those of recent ones for ``keep`` seconds."""

    def __init__(self, keep: float = KEEP, clock: Callable[[], float] = time.monotonic):
        self.keep = keep
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._values: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def update(self, config: Any) -> None:
        """Remember the secrets of a configuration just loaded (a ``dcluster.config.Config``)."""
        self.add(known_values(config))

    def add(self, values: Iterable[str]) -> None:
        now = self.clock()
        with self._lock:
            for v in values:
                self._seen[v] = now
            self._seen = {v: t for v, t in self._seen.items() if now - t <= self.keep}
            self._values = tuple(sorted(self._seen, key=len, reverse=True))

    def values(self) -> tuple[str, ...]:
        return self._values

    def clear(self) -> None:
        with self._lock:
            self._seen.clear()
            self._values = ()


REGISTRY = Registry()


def _reveal(v: Any) -> Any:
    return v.reveal() if hasattr(v, "reveal") and callable(v.reveal) else v


def url_password(value: Any) -> str | None:
    """The password inside a URL's userinfo (``http://user:pass@proxy:3128``), decoded; None if none."""
    if not isinstance(value, str) or "@" not in value:
        return None
    try:
        parts = urllib.parse.urlsplit(value if "://" in value else f"http://{value}")
        pw = parts.password
    except ValueError:
        return None
    return urllib.parse.unquote(pw) if pw else None


def mask_url_password(value: str) -> str:
    """``value`` with the password of its userinfo masked; the rest of the URL kept."""
    masked = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", value)
    # A value that is one URL (a pillar's proxy) may hold in its password what the pattern stops at
    # (an unencoded '@', a quote, '<' '>', a blank), which urlsplit still reads as the password, and
    # so does the HTTP client: its whole userinfo after the user name is masked by position.
    try:
        parts = urllib.parse.urlsplit(value)
        has_password = parts.password is not None
    except ValueError:
        return masked
    if not has_password:
        return masked
    start = len(parts.scheme) + 3
    if value[:start].lower() != parts.scheme + "://" or value[start : start + len(parts.netloc)] != parts.netloc:
        return REDACTED  # urlsplit dropped characters (tabs, newlines): nothing of it is shown
    user = parts.netloc.rpartition("@")[0].split(":", 1)[0]
    return f"{value[:start]}{user}:{REDACTED}@{parts.netloc.rpartition('@')[2]}{value[start + len(parts.netloc) :]}"


def known_values(config: Any) -> list[str]:
    """The secret values of a configuration: every Secret, every credential-like field, proxy passwords, command_env."""
    out: list[str] = []

    def keep(v: Any, minimum: int = MIN_LEN) -> None:
        v = _reveal(v)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and len(str(v)) >= minimum:
            out.append(str(v))
            pw = url_password(str(v))
            if pw and pw != str(v):
                out.append(pw)

    def walk(value: Any, key: Any = None) -> None:
        if hasattr(value, "reveal"):
            keep(value)
        elif key == "command_env" and isinstance(value, Mapping):
            # a key of a mapping or a field of a dataclass (the typed scheduler settings)
            for ek, ev in value.items():
                keep(ev, MIN_LEN if is_credential_key(ek) else MIN_PLAIN_ENV)
        elif isinstance(value, Mapping):
            for k, v in value.items():
                walk(v, k)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v, key)
        elif hasattr(value, "__dataclass_fields__"):
            for name in value.__dataclass_fields__:
                walk(getattr(value, name), name)
        elif isinstance(value, str):
            if is_credential_key(key):
                keep(value)
            pw = url_password(value)
            if pw and len(pw) >= MIN_LEN:
                out.append(pw)
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and is_credential_key(key):
            keep(value)

    walk(config)
    return [v for v in dict.fromkeys(out) if len(v) >= MIN_LEN and not v.isdigit() or is_plain_secret(v)]


def is_plain_secret(v: str) -> bool:
    """Long digit strings (PINs, account secrets) are kept; short ones (ports) would mask every number."""
    return v.isdigit() and len(v) >= 8


# ------------------------------------------------------------------ unknown credentials by shape
# Bounded repetitions and a look-behind instead of \b: unbounded ones backtrack quadratically on
# hostile text ("a." * 50000 took 65 s), and the log filter sees text any minion can send.
_USERINFO = re.compile(r"(?i)(?<![a-z0-9+.-])([a-z][a-z0-9+.-]{0,31}://[^\s/@:'\"<>]{0,256}:)[^\s/@'\"<>]{1,256}@")
_USERINFO_QUOTED = re.compile(r"(?i)(%3A%2F%2F[^\s%/@&'\"]{0,256}%3A)[^\s/@&'\"]{1,256}?(%40)")
_AWS_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|AGPA|ABIA|ACCA)[A-Z0-9]{12,}\b")
_BEARER = re.compile(r"\b(Bearer|Token)(\s+)[A-Za-z0-9._~+/=-]{8,}")
_BASIC = re.compile(r"\b(Basic)(\s+)([A-Za-z0-9+/=_-]{6,})")
_DIGEST = re.compile(r"\b(Digest\s+)(?=\w+=)[^\r\n\\'\"]*(?:\"[^\"\r\n]*\"[^\r\n\\'\"]*)*")
_AUTH_HEADER = re.compile(r"(?i)(?<![\w-])((?:proxy-)?authorization\\?[\"']?\s*[:=]\s*)")
_KEY = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]{0,63})(\\?[\"'])?(\s*(?:=|:(?!//))\s*)")
_XML = re.compile(r"<([A-Za-z][\w.:-]{0,63})(\s[^<>]*)?>([^<]+)</\1>")
_UNQUOTED_STOP = set(" \t\r\n,;&'\"}])<>\\")
_HEADER_STOP = set("\r\n'\"<\\")


def _value_end(text: str, pos: int, stop: set[str]) -> tuple[int, int]:
    """The span of the value starting at ``pos``: inside its quotes if quoted, else up to a ``stop`` char."""
    n = len(text)
    if pos < n - 1 and text[pos] == "\\" and text[pos + 1] in "\"'":  # an escaped quote: JSON inside a string
        close = text.find("\\" + text[pos + 1], pos + 2)
        return pos + 2, (close if close >= 0 else _line_end(text, pos + 2))
    if pos < n and text[pos] in "\"'":
        q, i = text[pos], pos + 1
        while i < n:
            c = text[i]
            if c == "\\":
                i += 2
                continue
            if c == q or c in "\r\n":
                break
            i += 1
        return pos + 1, min(i, n)
    i = pos
    while i < n and text[i] not in stop:
        i += 1
    return pos, i


def _line_end(text: str, pos: int) -> int:
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i >= 0]
    return min(ends) if ends else len(text)


def _mask_spans(text: str, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return text
    out, last = [], 0
    for a, b in sorted(spans):
        if b <= a or a < last:
            continue
        out.append(text[last:a])
        out.append(REDACTED)
        last = b
    out.append(text[last:])
    return "".join(out)


_AUTH_SCHEME = re.compile(
    r"(?i)(basic|bearer|token|negotiate|ntlm)\s+[^\s'\",;\\]+|aws4-hmac-sha256\s[^\r\n'\"\\]*?"
    r"signature=[0-9a-f]+"
)


def _auth_headers(text: str) -> str:
    """The value of an Authorization header; only its credential when the scheme is known (the rest is useful)."""
    spans = []
    for m in _AUTH_HEADER.finditer(text):
        a, b = _value_end(text, m.end(), _HEADER_STOP)
        known = _AUTH_SCHEME.match(text, a, b)
        if known is not None:
            b = known.end()
        if b > a:
            spans.append((a, b))
    return _mask_spans(text, spans)


def _key_values(text: str) -> str:
    spans: list[tuple[int, int]] = []
    for m in _KEY.finditer(text):
        if spans and m.start() < spans[-1][1]:
            continue
        if not is_credential_key(m.group(1)):
            continue
        start = m.end()
        if start < len(text) and text[start] in "{[":  # a structure: its own keys are looked at
            continue
        a, b = _value_end(text, start, _UNQUOTED_STOP)
        if b > a and text[a:b] != REDACTED:
            spans.append((a, b))
    return _mask_spans(text, spans)


def _basic(m: re.Match[str]) -> str:
    token = m.group(3)
    try:
        decoded = base64.b64decode(
            token + "=" * (-len(token) % 4), altchars=b"-_" if "-" in token or "_" in token else None
        )
    except (binascii.Error, ValueError):
        return str(m.group(0))
    return str(m.group(1) + m.group(2) + REDACTED if b":" in decoded else m.group(0))


# Private keys.  A worker's minion key travels in its user-data, which the SDKs log at DEBUG: as a PEM
# block (escaped newlines included; cut off or whole) or inside a base64 blob (EC2 and Nova take user-data
# base64-encoded), found by the alignment-independent base64 of the PEM marker.
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)", re.S)
_PEM_MARK_CORES = b64_cores("PRIVATE KEY-----")
_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_%-]{16,}={0,2}")


def _private_keys(text: str) -> str:
    if "PRIVATE KEY" in text:
        text = _PEM.sub(lambda m: f"-----BEGIN {m.group(1)}PRIVATE KEY-----{REDACTED}", text)
    if any(c in text for c in _PEM_MARK_CORES):
        text = _B64_TOKEN.sub(lambda m: REDACTED if any(c in m.group(0) for c in _PEM_MARK_CORES) else m.group(0), text)
    return text


def _shapes(text: str) -> str:
    text = _private_keys(text)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _auth_headers(text)
    text = _DIGEST.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
    text = _BASIC.sub(_basic, text)
    text = _key_values(text)
    text = _XML.sub(
        lambda m: (
            m.group(0)
            if not is_credential_key(m.group(1))
            else f"<{m.group(1)}{m.group(2) or ''}>{REDACTED}</{m.group(1)}>"
        ),
        text,
    )
    text = _USERINFO.sub(lambda m: m.group(1) + REDACTED + "@", text)
    text = _USERINFO_QUOTED.sub(lambda m: m.group(1) + REDACTED + m.group(2), text)
    return _AWS_KEY_ID.sub(REDACTED, text)


# ------------------------------------------------------------------ known values
@functools.lru_cache(maxsize=64)
def _compiled(values: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[re.Pattern[str], ...], tuple[str, ...]]:
    """Literal forms, multi-word patterns and base64 cores of a set of values (cached: the registry rarely changes)."""
    literals = tuple(sorted({f for v in values for f in forms(v)}, key=len, reverse=True))
    spaced = tuple(p for p in (_spaced(v) for v in values) if p is not None)
    cores = tuple(sorted({c for v in values for c in b64_cores(v)}, key=len, reverse=True))
    return literals, spaced, cores


def _mask_known(text: str, values: Iterable[str]) -> str:
    values = tuple(dict.fromkeys(v for v in values if len(v) >= MIN_LEN))
    if not values:
        return text
    literals, spaced, cores = _compiled(values)
    for f in literals:
        if f in text:
            text = text.replace(f, REDACTED)
    for pat in spaced:
        text = pat.sub(REDACTED, text)
    spans = []
    for core in cores:
        start = text.find(core)
        while start >= 0:
            a, b = start, start + len(core)
            while a > 0 and text[a - 1] in _B64_CHARS:  # the whole base64 token, not just the core
                a -= 1
            while b < len(text) and (text[b] in _B64_CHARS or text[b] == "="):
                b += 1
            spans.append((a, b))
            start = text.find(core, b)
    text = _mask_spans(text, _merge(spans))
    return _mask_cut_tail(text, values)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _mask_cut_tail(text: str, values: Iterable[str]) -> str:
    """A text cut short (``message[:1000]``) may end in the first part of a secret."""
    for v in values:
        for f in forms(v)[:8]:
            for k in range(min(len(f) - 1, len(text)), MIN_LEN - 1, -1):
                if text.endswith(f[:k]):
                    return text[:-k] + REDACTED
    return text


# ------------------------------------------------------------------ the entry points
def text(value: Any, secrets: Iterable[Any] = ()) -> str:
    """``value`` as a string with every known secret (registry and ``secrets``) and credential-looking token masked."""
    s = value if isinstance(value, str) else str(value)
    extra = [str(_reveal(x)) for x in secrets if x is not None and not isinstance(_reveal(x), bool)]
    s = _mask_known(s, list(REGISTRY.values()) + extra)
    return _shapes(s)


def data(value: Any, secrets: Iterable[Any] = ()) -> Any:
    """A copy of plain data (dicts, lists, strings) with every string scrubbed and credential-keyed values masked."""
    secrets = list(secrets)
    return _data(value, secrets, None)


def _data(value: Any, secrets: list[str], key: Any) -> Any:
    if isinstance(value, str):
        if value and is_credential_key(key) and value != REDACTED:
            return REDACTED
        return text(value, secrets)
    if isinstance(value, Mapping):
        return {(text(k, secrets) if isinstance(k, str) else k): _data(v, secrets, k) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_data(v, secrets, key) for v in value]
    if hasattr(value, "reveal"):
        return REDACTED
    if isinstance(value, (int, float)) and not isinstance(value, bool) and is_credential_key(key):
        return REDACTED
    if isinstance(value, (bytes, bytearray)):
        return text(bytes(value).decode("utf-8", "replace"), secrets)
    return value


scrub = text  # the name clouds.errors has always exported

__all__ = [
    "REDACTED",
    "REGISTRY",
    "Registry",
    "b64_cores",
    "data",
    "forms",
    "is_credential_key",
    "known_values",
    "mask_url_password",
    "scrub",
    "text",
    "url_password",
]
