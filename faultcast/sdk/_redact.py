"""Secret redaction for the SDK: a copy of ``faultcast.ingest.redact`` (the rules the store
applies), so the SDK needs nothing but itself; a test checks both redact alike.

Each rule replaces a secret with ``[REDACTED:<rule>]`` — text without quotes, backslashes or
spaces, so redacting the raw text of a JSON line keeps it valid JSON with the same keys.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Final, NamedTuple


class Rule(NamedTuple):
    name: str
    pattern: re.Pattern[str]
    #: Cheap RE2-compatible expression that matches wherever ``pattern`` can (search semantics).
    prefilter: str
    luhn: bool = False


# Keys whose values are secrets: the key may carry a prefix or suffix (db_password,
# x-api-key, client_secret, AWS_SECRET_ACCESS_KEY) but must END in one of these words.
_SECRET_WORDS = (
    r"passw(?:or)?d|passwd|pwd|pass|passphrase|secret|secret[_-]?key|client[_-]?secret|"
    r"token|access[_-]?token|refresh[_-]?token|id[_-]?token|session[_-]?token|auth[_-]?token|"
    r"api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|authorization|cookie|"
    r"set-cookie|secret[_-]?access[_-]?key"
)
# A key: word characters, dashes and dots, ending in a secret word (case-insensitive).
_KEY = rf"(?:[A-Za-z0-9_.-]*[_.-])?(?:{_SECRET_WORDS})"
# What follows the key: = or : (JSON form: the key is quoted, maybe with an escaped quote).
_SEP = r"""(?:\\?["'])?\s*[:=]\s*"""
# The value: a JSON string (quotes kept), an escaped-quoted string, or a bare token.
_VALUE = r"""(?:\\?"(?P<dq>(?:[^"\\]|\\[^"])*)\\?"|'(?P<sq>[^']*)'|(?P<bare>[^\s"',;&}\])]+))"""

_BEARER = re.compile(r"(?i)\b(?P<kind>bearer|basic)\s+(?P<secret>[A-Za-z0-9._~+/=-]{8,})")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_AWS = re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY-----|[^\"]*)",
    re.DOTALL,
)
_TOKENS = re.compile(
    r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|xox[abpors]-[A-Za-z0-9-]{10,}|"
    r"AIza[0-9A-Za-z_-]{35}|(?:sk|rk)_live_[0-9A-Za-z]{16,})"
)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@\"']*):(?P<secret>[^\s@/\"']+)@"
)
_ID_CONTEXT = re.compile(
    r"(?i)(?:id|key|uuid|hash|trace|span|session|request|block|blk|offset|seq|nonce)"
    r"[\"']?\s*[:=]\s*[\"']?$"
)
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
# Card numbers: a card brand's prefix (Visa, Mastercard, Amex, Discover, JCB, Diners), 13-19
# digits with optional single spaces or dashes, standing alone (not inside an id like
# blk_-4123..., a longer digit run or a decimal), and Luhn-valid.
_CARD_BRANDS = r"(?:4|5[1-5]|2[2-7]|3[47]|6011|65|35|3[068])"
_CARD = re.compile(rf"(?<![\w.-]){_CARD_BRANDS}(?:[0-9][ -]?){{10,17}}[0-9](?![\w]|\.[0-9])")
_KEY_VALUE = re.compile(rf"(?i)(?P<key>(?<![A-Za-z0-9]){_KEY})(?P<sep>{_SEP}){_VALUE}")

# Prefilters: RE2 and Python alike, no lookarounds.
_PREFILTERS: Final[dict[str, str]] = {
    "key_value": rf"(?i:(?:{_SECRET_WORDS})(?:\\?[\"'])?\s*[:=])",
    "bearer": r"(?i:(?:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8})",
    "jwt": r"eyJ[A-Za-z0-9_-]{5,}\.eyJ",
    "aws_access_key": r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}",
    "private_key": r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----",
    "token": r"gh[pousr]_|github_pat_|xox[abpors]-|AIza|[sr]k_live_",
    "url_password": r"://[^\s:/@\"']*:[^\s@/\"']+@",
    "email": r"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+\.",
    "card": rf"(?:^|[^\w.-]){_CARD_BRANDS}(?:[0-9][ -]?){{10,17}}[0-9]",
}

#: Rule names in the order they run.
RULE_NAMES: Final[tuple[str, ...]] = (
    "private_key",
    "jwt",
    "bearer",
    "url_password",
    "key_value",
    "aws_access_key",
    "token",
    "card",
    "email",
)


def luhn_valid(digits: str) -> bool:
    """Whether a digit string passes the Luhn check (card numbers do).

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _mark(rule: str) -> str:
    return f"[REDACTED:{rule}]"


class Redactor:
    """Finds and replaces secrets in text.

    Parameters
    ----------
    extra_patterns
        More regular expressions to redact: a string (named ``custom``) or ``(name, regex)``.
        When the expression has a group named ``secret`` only that group is replaced.
    disable
        Rule names to switch off (see :data:`RULE_NAMES`), e.g. ``("email",)``.

    Examples
    --------
    >>> r = Redactor()
    >>> r.redact('login failed password=hunter2 for bob@example.com')
    ('login failed password=[REDACTED:key_value] for [REDACTED:email]', {'key_value': 1, 'email': 1})
    >>> r.redact('{"user": "bob", "api_key": "s3cr3t"}')[0]
    '{"user": "bob", "api_key": "[REDACTED:key_value]"}'
    """

    def __init__(
        self, extra_patterns: Sequence[str | tuple[str, str]] = (), *, disable: Sequence[str] = ()
    ) -> None:
        unknown = set(disable) - set(RULE_NAMES)
        if unknown:
            raise ValueError(
                f"unknown redaction rules {sorted(unknown)}; the rules are {list(RULE_NAMES)}"
            )
        self.disable = tuple(disable)
        self.extra: list[tuple[str, re.Pattern[str]]] = []
        for item in extra_patterns:
            name, rx = ("custom", item) if isinstance(item, str) else item
            try:
                self.extra.append((name, re.compile(rx)))
            except re.error as e:
                raise ValueError(
                    f"redaction pattern {rx!r} is not a valid regular expression: {e}"
                ) from e
        self.rule_names: tuple[str, ...] = tuple(
            [n for n in RULE_NAMES if n not in self.disable] + [n for n, _ in self.extra]
        )
        parts = [f"(?:{_PREFILTERS[n]})" for n in RULE_NAMES if n not in self.disable]
        for _, compiled in self.extra:
            # A user pattern RE2 cannot run (lookarounds, backreferences) makes every line a
            # candidate: slower, never unsafe.
            source = compiled.pattern
            parts.append(f"(?:{source})" if _re2_compatible(source) else "(?s:.)")
        self.prefilter: str = "|".join(parts) if parts else r"[^\s\S]"

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with its secrets replaced, and how many of each rule fired."""
        counts: Counter[str] = Counter()
        on = set(self.rule_names)

        def sub(name: str, pattern: re.Pattern[str], repl: object, s: str) -> str:
            if name not in on:
                return s
            out, n = pattern.subn(repl, s)  # type: ignore[call-overload]
            if n and out != s:
                counts[name] += out.count(_mark(name)) - s.count(_mark(name))
            return str(out)

        def keep_group(group: str, name: str) -> object:
            def repl(m: re.Match[str]) -> str:
                start, end = m.span(group)
                return m.string[m.start() : start] + _mark(name) + m.string[end : m.end()]

            return repl

        def key_value(m: re.Match[str]) -> str:
            group = (
                "dq" if m.group("dq") is not None else "sq" if m.group("sq") is not None else "bare"
            )
            value = m.group(group)
            if value.startswith("[REDACTED:") or not value:
                return m.group(0)
            json_key = m.group("sep").lstrip().startswith(('"', '\\"'))
            if group == "bare" and json_key:
                if value in ("null", "true", "false"):
                    return m.group(0)
                # A JSON number or literal: replace it with a string, so the JSON stays valid.
                start, end = m.span(group)
                return (
                    m.string[m.start() : start]
                    + '"'
                    + _mark("key_value")
                    + '"'
                    + m.string[end : m.end()]
                )
            if m.group("key").lower().endswith("authorization") and re.match(
                r"(?i)(bearer|basic)\b", value
            ):
                return m.group(0)  # the bearer/basic rule handles these
            start, end = m.span(group)
            return m.string[m.start() : start] + _mark("key_value") + m.string[end : m.end()]

        def card(m: re.Match[str]) -> str:
            if _ID_CONTEXT.search(m.string, max(0, m.start() - 40), m.start()):
                return m.group(0)  # the value of an id field (request_id=4040...) is not a card
            digits = re.sub(r"[ -]", "", m.group(0))
            if 13 <= len(digits) <= 19 and luhn_valid(digits):
                return _mark("card")
            return m.group(0)

        s = text
        s = sub("private_key", _PRIVATE_KEY, _mark("private_key"), s)
        s = sub("jwt", _JWT, _mark("jwt"), s)

        def bearer(m: re.Match[str]) -> str:
            secret = m.group("secret")
            # "Basic" is also an English word: its credential is base64, so needs a digit or +/=.
            header = "authorization" in m.string[max(0, m.start() - 40) : m.start()].lower()
            if (
                m.group("kind").lower() == "basic"
                and not header
                and not re.search(r"[0-9+/=]", secret)
            ):
                return m.group(0)
            start, end = m.span("secret")
            return m.string[m.start() : start] + _mark("bearer") + m.string[end : m.end()]

        s = sub("bearer", _BEARER, bearer, s)
        s = sub("url_password", _URL_PASSWORD, keep_group("secret", "url_password"), s)
        s = sub("key_value", _KEY_VALUE, key_value, s)
        s = sub("aws_access_key", _AWS, _mark("aws_access_key"), s)
        s = sub("token", _TOKENS, _mark("token"), s)
        s = sub("card", _CARD, card, s)
        s = sub("email", _EMAIL, _mark("email"), s)
        for name, rx in self.extra:
            repl = keep_group("secret", name) if "secret" in rx.groupindex else _mark(name)
            s = sub(name, rx, repl, s)
        return s, {k: v for k, v in counts.items() if v > 0}

    def redact_many(self, texts: Iterable[str]) -> tuple[list[str], Counter[str]]:
        """Redact each text; the total counts."""
        total: Counter[str] = Counter()
        out = []
        for text in texts:
            new, counts = self.redact(text)
            total.update(counts)
            out.append(new)
        return out, total

    def __repr__(self) -> str:
        return f"Redactor(rules={list(self.rule_names)})"


_RE2_UNSUPPORTED = re.compile(r"\(\?[=!<]|\(\?P=|\\[1-9]|[*+?}]\+")


def _re2_compatible(pattern: str) -> bool:
    """A conservative guess whether RE2 (DuckDB, Arrow) accepts a Python pattern."""
    return _RE2_UNSUPPORTED.search(pattern) is None
