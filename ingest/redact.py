"""Secret redaction: applied to every raw line before anything is parsed or stored.

Each rule replaces a secret with ``[REDACTED:<rule>]`` — text without quotes, backslashes or
spaces.  A line that is a JSON document is redacted as the parser will see it: keys and string
values are decoded (``"\\u0070assword"`` is ``"password"``, ``\\"`` is a quote), the value of a
secret key is replaced whole whatever its type (a string, a number, an array or an object
becomes the string ``"[REDACTED:key_value]"``), and every decoded string is searched by the
text rules; only the changed values are rewritten, so the line stays valid JSON with the same
keys.  Any other line (text logs, broken JSON) is searched as text, and again with its JSON
escapes undone when it has any.  Text is also searched URL-decoded (``password%3Dhunter2``).

The ingest runs :attr:`Redactor.prefilter` (one RE2-compatible expression) over every line in
bulk and calls :meth:`Redactor.redact` only on the lines it flags; the prefilter matches every
line that :meth:`Redactor.redact` would change, escaped or not.

Token shapes (rule ``token``) are data: ``secret_patterns.toml`` beside this module, vendored
from detect-secrets (see the file's header for the version and what was changed).
"""

from __future__ import annotations

import json
import math
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Final, NamedTuple
from urllib.parse import quote, unquote_plus

# ---------------------------------------------------------------- secret keys
# Words a key ENDS in when its value is a secret; the key may carry a prefix (db_password,
# x-api-key, AWS_SECRET_ACCESS_KEY, dbPassword) and a suffix (password_2, password1).
_SECRET_WORDS_EN = (
    r"passw(?:or)?d|passwd|pwd|pass|passphrase|passcode|secret|secret[_-]?key|client[_-]?secret|"
    r"token|access[_-]?token|refresh[_-]?token|id[_-]?token|session[_-]?token|auth[_-]?token|"
    r"api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|creds|authorization|"
    r"cookie|set-cookie|secret[_-]?access[_-]?key|x-api-key"
)
#: "password", "secret", "token" and "credentials" in other common languages (as written in
#: keys: ASCII spellings without accents too).
OTHER_LANGUAGE_KEYS: Final[tuple[str, ...]] = (
    "passwort",  # de
    "kennwort",  # de
    "geheimnis",  # de: secret
    "zugangsdaten",  # de: credentials
    "contraseña",  # es
    "contrasena",
    "clave_secreta",
    "credenciales",  # es
    "mot_de_passe",  # fr
    "motdepasse",
    "mdp",  # fr (mot de passe)
    "jeton",  # fr: token
    "senha",  # pt
    "palavra_passe",  # pt
    "wachtwoord",  # nl
    "parola",  # it, ro, tr
    "parolă",
    "segreto",  # it
    "lösenord",  # sv
    "losenord",
    "passord",  # no
    "adgangskode",  # da
    "salasana",  # fi
    "hasło",  # pl
    "haslo",
    "heslo",  # cs, sk
    "jelszó",  # hu
    "jelszo",
    "geslo",  # sl
    "lozinka",  # hr, sr, bs
    "şifre",  # tr
    "sifre",
    "kata_sandi",  # id, ms
    "katasandi",
    "mật_khẩu",  # vi
    "пароль",  # ru, uk
    "κωδικός",  # el
    "סיסמה",  # he
    "كلمة_المرور",  # ar
    "رمز",  # ar, fa
    "पासवर्ड",  # hi
    "密码",  # zh
    "密碼",
    "口令",
    "パスワード",  # ja
    "暗証番号",
    "비밀번호",  # ko
)
_SECRET_WORDS = _SECRET_WORDS_EN + "|" + "|".join(re.escape(w) for w in OTHER_LANGUAGE_KEYS)
# A suffix after the word: a number (password2, password_2) or a variant of the same secret.
_SUFFIX = r"(?:[_.-]?[0-9]{1,3}|[_.-](?:new|old|confirm(?:ation)?|again|repeat|hash|plain(?:text)?|value|enc(?:rypted)?))"
# A key in text: word characters, dashes and dots, ending in a secret word (and a suffix);
# a camelCase join (dbPassword, apiKey) counts as a separator.
_KEY = rf"(?:[\w.-]*?(?:[_.\- ]|(?-i:(?<=[a-z0-9])(?=[A-Z]))))?(?:{_SECRET_WORDS})(?:{_SUFFIX})?"
#: A whole (decoded) JSON key whose value is a secret.
_SECRET_KEY = re.compile(
    rf"(?i)(?:[\w.\- ]*?(?:[_.\- ]|(?-i:(?<=[a-z0-9])(?=[A-Z]))))?(?:{_SECRET_WORDS})(?:{_SUFFIX})?"
)
# What follows the key: = or : or => (JSON form: the key is quoted, maybe with an escaped quote).
_SEP = r"""(?:\\?["'])?[ \t]*(?:=>|[:=])[ \t]*"""
# The value: a quoted string (escapes inside kept), an escaped-quoted string, a bracketed
# list or object (text that is not JSON), or a bare token.
_VALUE = (
    r"""(?:"(?P<dq>(?:[^"\\]|\\.)*)"|\\"(?P<eq>(?:[^"\\]|\\[^"])*)\\"|'(?P<sq>[^'\n]*)'|"""
    r"""(?P<br>\[[^\]\n]*\]?|\{[^}\n]*\}?)|(?P<bare>[^\s"',;&}\])]+))"""
)
_KEY_VALUE = re.compile(rf"(?i)(?P<key>(?<!\w){_KEY})(?P<sep>{_SEP}){_VALUE}")
# A command line's option and its value after a space: --password hunter2, --api-key "k 1".
_OPTION_VALUE = re.compile(
    rf"""(?i)(?<!\S)--(?P<key>{_KEY})(?P<sep>[ \t]+)"""
    rf"""(?:"(?P<dq>[^"\n]*)"|'(?P<sq>[^'\n]*)'|(?P<bare>[^\s"']+))"""
)

# Values after a secret key that are ordinary words, not secrets ("password: success").
_PROSE_VALUES: Final[frozenset[str]] = frozenset(
    """
    a an the is are was were be been has have had will would should must can cannot could not
    no yes ok okay none null nil true false on off set unset empty blank missing present absent
    required optional valid invalid incorrect correct wrong weak strong too short long old new
    success successful succeeded fail failed failure error errors mismatch match matches
    expired expires expiring changed change reset updated update accepted denied rejected
    refused provided redacted masked hidden hashed encrypted unknown default ready pending
    active inactive enabled disabled rotated loaded expected used reused revoked verified
    unverified found notfound stored saved sent received generated created deleted removed
    ignored skipped please for of to from in with by and or via at as if when after before
    rotation expiry refresh renewal check checks policy length strength attempt attempts
    """.split()  # noqa: SIM905 - a word list reads better as words
)
_PROSE_SHAPE = re.compile(r"[^\W\d_]+(?:ed|ing)")
_PLACEHOLDER = re.compile(
    r"\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|\{\{[^}]*\}\}|%\([A-Za-z_]+\)s|<[A-Za-z_ -]+>|[*xX•#.\-]+"
)


def _looks_secret(value: str) -> bool:
    """Whether the value after a secret key looks like a secret rather than a word of prose
    (``password: success``), a small count (``pass: 3 of 5``), a placeholder (``${DB_PASSWORD}``)
    or a mask (``****``)."""
    v = value.strip()
    if not v or v.startswith("[REDACTED:"):
        return False
    low = v.lower()
    if low in _PROSE_VALUES or _PLACEHOLDER.fullmatch(v):
        return False
    if v.isdigit() and len(v) < 4:
        return False
    return not (v == low or v[1:] == low[1:]) or _PROSE_SHAPE.fullmatch(low) is None


# ---------------------------------------------------------------- other rules
_AUTH_SCHEMES = r"bearer|basic|token|digest|negotiate|ntlm|apikey|api-key|key|sso-key|dpop|jwt|mac|hmac|otp|aws4-hmac-sha256"
_AUTH_HEADER = re.compile(
    rf"(?i)(?<![\w-])(?:proxy-)?authori[sz]ation(?:\\?[\"'])?[ \t]*[:=][ \t]*(?:\\?[\"'])?"
    rf"(?:(?:{_AUTH_SCHEMES})[ \t]+)?(?P<secret>(?:[^\s\"',;\\]|\\[^\"])+)"
)
_BEARER = re.compile(r"(?i)\b(?P<kind>bearer|basic)[ \t]+(?P<secret>[A-Za-z0-9._~+/=-]{8,})")
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_PRIVATE_KEY = re.compile(
    r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:.*?-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|[^\"]*)|"
    r"PuTTY-User-Key-File-[0-9]: [^\"]*",
    re.DOTALL,
)
_URL_PASSWORD = re.compile(
    r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@\"']*):(?P<secret>[^\s@/\"']+)@"
)
# A bare AWS secret access key: 40 characters of base64 standing alone, with upper and lower
# case letters and a digit, and the entropy of random text (hex digests have no upper case).
_AWS_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")
_ID_CONTEXT = re.compile(
    r"(?i)(?:id|key|uuid|hash|trace|span|session|request|block|blk|offset|seq|nonce)"
    r"[\"']?\s*[:=]\s*[\"']?$"
)
# The local part starts where no local-part character stands before it: one try per run, not
# one per character (a long "a.a.a..." without an @ would take quadratic time).
_EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
_URL_USER = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://$")
# Card numbers in any script's digits: 13-19 digits with optional single spaces or dashes,
# standing alone (not inside an id like blk_-4123..., a longer digit run or a decimal); then
# a card brand's prefix (Visa, Mastercard, Amex, Discover, JCB, Diners) and Luhn-valid.
_CARD_BRANDS = r"(?:4|5[1-5]|2[2-7]|3[47]|6011|65|35|3[068])"
_CARD = re.compile(r"(?<![\w.-])\d(?:[ \-\u3000]?\d){12,18}(?!\w|\.\d)")
# IBAN: country, check digits, 11-30 letters or digits (in groups of 4, which may be spaced);
# the country's length and the mod-97 checksum decide.
_IBAN = re.compile(r"(?<![A-Za-z0-9])[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?")
IBAN_LENGTHS: Final[dict[str, int]] = {
    **dict.fromkeys(["NO"], 15),
    **dict.fromkeys(["BE"], 16),
    **dict.fromkeys(["DK", "FI", "FO", "GL", "NL"], 18),
    **dict.fromkeys(["MK", "SI"], 19),
    **dict.fromkeys(["AT", "BA", "EE", "KZ", "LT", "LU", "XK"], 20),
    **dict.fromkeys(["CH", "HR", "LI", "LV"], 21),
    **dict.fromkeys(["BG", "BH", "CR", "DE", "GB", "GE", "IE", "ME", "RS", "VA"], 22),
    **dict.fromkeys(["AE", "GI", "IL", "IQ", "TL"], 23),
    **dict.fromkeys(["AD", "CZ", "ES", "MD", "PK", "RO", "SA", "SE", "SK", "TN", "VG"], 24),
    **dict.fromkeys(["PT", "ST"], 25),
    **dict.fromkeys(["IS", "TR"], 26),
    **dict.fromkeys(["FR", "GR", "IT", "MC", "MR", "SM"], 27),
    **dict.fromkeys(["AL", "AZ", "BY", "CY", "DO", "GT", "HU", "LB", "PL", "SV"], 28),
    **dict.fromkeys(["BR", "EG", "PS", "QA", "UA"], 29),
    **dict.fromkeys(["JO", "KW", "MU"], 30),
    **dict.fromkeys(["MT", "SC"], 31),
    **dict.fromkeys(["LC"], 32),
}
# A line that is only base64 (40 characters or more, or ending in =): the body of a private key
# written over several lines of a text log, each line redacted alone.
_KEY_BODY_LINE = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}|[A-Za-z0-9+/]{16,}={1,2}")
_URL_ENCODED = re.compile(r"(?<![^\s\"'<>])[^\s\"'<>]*%[0-9A-Fa-f]{2}[^\s\"'<>]*")
_JSON_ESCAPE = re.compile(
    r"\\(?:u([dD][89abAB][0-9a-fA-F]{2})\\u([dD][c-fC-F][0-9a-fA-F]{2})|u([0-9a-fA-F]{4})|([\"\\/bfnrt]))"
)
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


# ---------------------------------------------------------------- token catalogue
class _TokenRule(NamedTuple):
    id: str
    regex: re.Pattern[str]
    prefilter: str
    #: Lower-case literals one of which every match holds (empty: always run the regex).
    keywords: tuple[str, ...]


def _load_token_rules() -> list[_TokenRule]:
    data = tomllib.loads(Path(__file__).with_name("secret_patterns.toml").read_text("utf-8"))
    return [
        _TokenRule(r["id"], re.compile(r["regex"]), r["prefilter"], tuple(r.get("keywords", ())))
        for r in data["rule"]
    ]


_TOKEN_RULES: Final = _load_token_rules()


# ---------------------------------------------------------------- prefilters
def _escaped(word: str) -> str:
    """A word as a JSON encoder that escapes non-ASCII writes it (a regex, lower case)."""
    return "".join(re.escape(c) if ord(c) < 128 else f"\\\\u{ord(c):04x}" for c in word)


def _nonascii_digits() -> tuple[str, str]:
    """A character class of the decimal digits other than 0-9, and an expression for their
    JSON escapes (``\\uff14``)."""
    codes = [c for c in range(0x80, 0x110000) if unicodedata.category(chr(c)) == "Nd"]
    ranges: list[tuple[int, int]] = []
    for c in codes:
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    cls = "[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]"
    groups: dict[int, list[int]] = {}
    for c in codes:
        if c < 0x10000:
            groups.setdefault(c >> 4, []).append(c & 15)
    escaped = "|".join(
        f"{g:03x}[{''.join(f'{d:x}' for d in ds)}]" for g, ds in sorted(groups.items())
    )
    return cls, rf"\\u(?i:{escaped})"


_OTHER_DIGITS, _ESCAPED_DIGITS = _nonascii_digits()
_NON_ASCII_KEY_WORDS = [w for w in OTHER_LANGUAGE_KEYS if not w.isascii()]
# Stems that start every secret word (RE2 and Python alike; case-insensitive).
_KEY_STEMS = (
    r"pass|pwd|secret|token|api.?key|access.?key|private.?key|credential|creds|authori[sz]ation|"
    r"cookie|" + "|".join(re.escape(w) for w in OTHER_LANGUAGE_KEYS if w.isascii())
)
_KEY_STEMS += "|" + "|".join(
    alt
    for w in _NON_ASCII_KEY_WORDS
    for alt in {re.escape(w), re.escape(w.capitalize()), _escaped(w), _escaped(w.capitalize())}
)
# A secret word, what may follow it in a key, then the separator (also URL-encoded).
_KEY_PREFILTER = rf"(?i:(?:{_KEY_STEMS})[^\s\"'=:]*(?:\\?[\"'])?[ \t]*(?:[:=]|%(?:25)?3[ad]))"
# A JSON escape of a letter, digit or sign (normal encoders escape only quotes, backslashes,
# control characters and at most <, > and &): it may hide a key or a separator.
_ASCII_ESCAPE = r"\\u00(?:2[0-57-9a-fA-F]|3[0-9abdfABDF]|[4-7][0-9a-fA-F])"

_IDEOGRAPHIC_SPACE = "\u3000"  # the character itself: RE2 has no \u escape
_PREFILTERS: Final[dict[str, str]] = {
    "private_key": r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY|PuTTY-User-Key-File-|^\s*[A-Za-z0-9+/]{16}",
    "jwt": r"eyJ[A-Za-z0-9_-]+\.eyJ",
    "auth_header": r"(?i:authori[sz]ation(?:\\?[\"'])?[ \t]*[:=])",
    "bearer": r"(?i:(?:bearer|basic)[ \t])",
    "url_password": r"://[^\s:/@\"']*:[^\s@/\"']+@|:\\/\\/",
    "key_value": rf"{_KEY_PREFILTER}|(?i:--(?:{_KEY_STEMS})[^\s\"'=:]*[ \t])",
    "token": "|".join(f"(?:{rule.prefilter})" for rule in _TOKEN_RULES),
    # \/: a JSON encoder that escapes slashes (PHP's) splits the run in the raw line.
    "aws_secret_key": r"(?:[A-Za-z0-9/+]|\\/){40}",
    "card": rf"(?:^|[^\w.-]){_CARD_BRANDS}(?:[0-9][ {_IDEOGRAPHIC_SPACE}-]?){{11}}[0-9]|{_OTHER_DIGITS}|{_ESCAPED_DIGITS}"
    r"|[0-9]\\u3000[0-9]",
    "iban": r"[A-Z]{2}[0-9]{2} ?[A-Z0-9]{4} ?[A-Z0-9]{4}",
    "email": r"[A-Za-z0-9._%+-]@[A-Za-z0-9-]+\.",
}
#: Flags what only decoding reveals: JSON escapes of plain characters.
_DECODING_PREFILTER: Final[str] = _ASCII_ESCAPE

#: The built-in rules (each can be switched off with ``Redactor(disable=...)``).
RULE_NAMES: Final[tuple[str, ...]] = (
    "private_key",
    "jwt",
    "auth_header",
    "bearer",
    "url_password",
    "key_value",
    "token",
    "aws_secret_key",
    "card",
    "iban",
    "email",
)
#: The token shapes of rule ``token``, by id (see ``secret_patterns.toml``).
TOKEN_RULE_IDS: Final[tuple[str, ...]] = tuple(rule.id for rule in _TOKEN_RULES)
# Cheap tests (substrings of the lower-cased text) that a rule can match at all: the rules run
# on every decoded string of a flagged JSON line, so each is skipped unless its test passes.
_KEY_STEMS_LOWER: Final[tuple[str, ...]] = (
    "pass",
    "pwd",
    "secret",
    "token",
    "key",
    "credential",
    "creds",
    "authori",
    "cookie",
    *sorted({w.lower() for w in OTHER_LANGUAGE_KEYS}),
)


_UNKEYED_TOKEN_RULES: Final = [rule for rule in _TOKEN_RULES if not rule.keywords]
_KEY_WORD = re.compile("|".join(re.escape(stem) for stem in _KEY_STEMS_LOWER))
_TOKEN_KEYWORD = re.compile(
    "|".join(sorted({re.escape(k) for rule in _TOKEN_RULES for k in rule.keywords}))
)
# Any of the literals some rule needs (the lower-cased text holds one, or no such rule fires).
_ANY_LITERAL = re.compile(
    "|".join(
        [_KEY_WORD.pattern, _TOKEN_KEYWORD.pattern]
        + [re.escape(x) for x in ("private key", "putty-user-key-file-", "eyj", "bearer", "basic")]
        + [re.escape(x) for x in ("://", "@", "%")]
    )
)


def _has_key_word(low: str) -> bool:
    return _KEY_WORD.search(low) is not None


def luhn_valid(digits: str) -> bool:
    """Whether a digit string (any script's digits) passes the Luhn check (card numbers do).

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112"), luhn_valid("４１１１１１１１１１１１１１１１")
    (True, False, True)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = unicodedata.decimal(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """Whether an IBAN (spaces allowed) has its country's length and a valid mod-97 checksum.

    >>> iban_valid("DE89 3704 0044 0532 0130 00"), iban_valid("DE89 3704 0044 0532 0130 01")
    (True, False)
    """
    compact = iban.replace(" ", "")
    if IBAN_LENGTHS.get(compact[:2]) != len(compact) or not compact.isascii():
        return False
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def _mark(rule: str) -> str:
    return f"[REDACTED:{rule}]"


def _unescape_json(text: str) -> str:
    """The text with its JSON string escapes undone (for text that is not a JSON document)."""

    def one(m: re.Match[str]) -> str:
        if m.group(1):  # a surrogate pair: one character
            high, low = int(m.group(1), 16), int(m.group(2), 16)
            return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
        if m.group(3):
            code = int(m.group(3), 16)
            # A lone surrogate stays escaped: it is no character (and UTF-8 cannot hold it).
            return m.group(0) if 0xD800 <= code <= 0xDFFF else chr(code)
        c = m.group(4)
        return _ESCAPES.get(c, c)

    return _JSON_ESCAPE.sub(one, text)


class _NotJson(Exception):
    pass


_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()
#: json's own string scanner (C): (the decoded string, the index after its closing quote) from
#: the index after its opening quote.
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


def _skip_ws(s: str, i: int) -> int:
    if i >= len(s) or s[i] not in " \t\n\r":
        return i
    m = _WS.match(s, i)
    assert m is not None  # it matches the empty string
    return m.end()


# NaN and Infinity, and trailing commas below: DuckDB's JSON reader takes them too.
_SCALAR = re.compile(
    r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?|true|false|null|NaN|-?Infinity"
)
_MAX_DEPTH = 200


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
    >>> r.redact('{"\\\\u0070assword": ["x", 1]}')[0]
    '{"\\\\u0070assword": "[REDACTED:key_value]"}'
    >>> r.redact("password: success")[0]
    'password: success'
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
        if parts:
            parts.append(f"(?:{_DECODING_PREFILTER})")
        self.prefilter: str = "|".join(parts) if parts else r"[^\s\S]"
        self._flagged = re.compile(self.prefilter).search
        self._on = frozenset(self.rule_names)

    # -- public -----------------------------------------------------------
    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """The text with its secrets replaced, and how many of each rule fired."""
        counts: Counter[str] = Counter()
        head = text.lstrip(" \t\r\n")
        if head[:1] in ("{", "["):
            try:
                out = self._redact_json(text, counts)
            except (_NotJson, RecursionError, ValueError, IndexError):
                counts.clear()
            else:
                return out, {k: v for k, v in counts.items() if v > 0}
        if "private_key" in self._on and _KEY_BODY_LINE.fullmatch(text.strip()):
            return _mark("private_key"), {"private_key": 1}
        out = self._redact_text(text, counts)
        if "\\" in text:
            # Not JSON, but maybe JSON that is cut or broken: redact what its escapes hide too.
            decoded = _unescape_json(text)
            if decoded != text:
                more: Counter[str] = Counter()
                redacted = self._redact_text(decoded, more)
                if sum(more.values()) > sum(counts.values()):
                    out, counts = redacted, more
        return out, {k: v for k, v in counts.items() if v > 0}

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

    # -- JSON documents ---------------------------------------------------
    def _redact_json(self, text: str, counts: Counter[str]) -> str:
        """Redact a JSON document as decoded; raises _NotJson when it is not one."""
        edits: list[tuple[int, int, str]] = []
        end = self._walk(text, _skip_ws(text, 0), edits, counts, 0)
        if _skip_ws(text, end) != len(text):
            raise _NotJson
        if not edits:
            return text
        parts = []
        last = len(text)
        for start, stop, new in sorted(edits, reverse=True):
            parts.append(text[stop:last])
            parts.append(new)
            last = start
        parts.append(text[:last])
        return "".join(reversed(parts))

    def _walk(
        self,
        s: str,
        i: int,
        edits: list[tuple[int, int, str]],
        counts: Counter[str],
        depth: int,
        context: str = "",
    ) -> int:
        """Redact the JSON value at ``s[i]`` (into ``edits``); the index after it.
        ``context``: the key it is the value of, as ``"key": `` (for the id-context of cards)."""
        if depth > _MAX_DEPTH:
            raise _NotJson
        c = s[i]
        if c == '"':
            decoded, end = _scanstring(s, i + 1)
            self._redact_string(decoded, i, end, edits, counts, context + '"')
            return end
        if c == "{":
            i = _skip_ws(s, i + 1)
            if s[i] == "}":
                return i + 1
            while True:
                if s[i] != '"':
                    raise _NotJson
                key, key_end = _scanstring(s, i + 1)
                self._redact_string(key, i, key_end, edits, counts, "")
                j = _skip_ws(s, key_end)
                if s[j] != ":":
                    raise _NotJson
                j = _skip_ws(s, j + 1)
                inner = '"' + key + '": '
                if (
                    "key_value" in self._on
                    and _has_key_word(key.lower())
                    and _SECRET_KEY.fullmatch(key)
                ):
                    try:
                        end = _DECODER.raw_decode(s, j)[1]
                    except ValueError:  # what DuckDB reads and Python does not (a trailing comma)
                        end = self._walk(s, j, [], Counter(), depth + 1, inner)
                    if self._secret_value(s[j:end]):
                        edits.append((j, end, '"' + _mark("key_value") + '"'))
                        counts["key_value"] += 1
                    else:
                        end = self._walk(s, j, edits, counts, depth + 1, inner)
                else:
                    end = self._walk(s, j, edits, counts, depth + 1, inner)
                i = _skip_ws(s, end)
                if s[i] == ",":
                    i = _skip_ws(s, i + 1)
                    if s[i] == "}":
                        return i + 1
                elif s[i] == "}":
                    return i + 1
                else:
                    raise _NotJson
        if c == "[":
            i = _skip_ws(s, i + 1)
            if s[i] == "]":
                return i + 1
            while True:
                end = self._walk(s, i, edits, counts, depth + 1, context)
                i = _skip_ws(s, end)
                if s[i] == ",":
                    i = _skip_ws(s, i + 1)
                    if s[i] == "]":
                        return i + 1
                elif s[i] == "]":
                    return i + 1
                else:
                    raise _NotJson
        m = _SCALAR.match(s, i)
        if m is None:
            raise _NotJson
        number = m.group(0)
        if number[0] in "-0123456789" and len(number) >= 13:
            new = self._redact_text(number, counts, context)
            if new != number:
                edits.append((i, m.end(), json.dumps(new)))
        return m.end()

    def _secret_value(self, raw: str) -> bool:
        """Whether the raw JSON value of a secret key is to be replaced."""
        if raw in ("null", "true", "false", "[]", "{}", '""'):
            return False
        if raw[0] in "[{":
            return True
        if raw[0] == '"':
            return _looks_secret(json.loads(raw))
        return _looks_secret(raw)

    def _redact_string(
        self,
        decoded: str,
        start: int,
        end: int,
        edits: list[tuple[int, int, str]],
        counts: Counter[str],
        context: str,
    ) -> None:
        new = self._redact_text(decoded, counts, context)
        if new != decoded:
            encoded = json.dumps(new, ensure_ascii=False)
            if not encoded.isascii():
                try:
                    encoded.encode("utf-8")
                except UnicodeEncodeError:  # a lone surrogate (from an escape): keep it escaped
                    encoded = json.dumps(new)
            edits.append((start, end, encoded))

    # -- text -------------------------------------------------------------
    def _redact_text(self, text: str, counts: Counter[str], context: str = "") -> str:
        s = self._apply_rules(text, counts, context)
        if "%" in s:
            s = _URL_ENCODED.sub(lambda m: self._url_decoded(m.group(0), counts), s)
        return s

    def _url_decoded(self, token: str, counts: Counter[str]) -> str:
        decoded = token
        for _ in range(2):  # encoded once or twice
            if not re.search(r"%[0-9A-Fa-f]{2}", decoded):
                break
            decoded = unquote_plus(decoded)
        if decoded == token:
            return token
        found: Counter[str] = Counter()
        new = self._apply_rules(decoded, found)
        if not found:
            return token
        counts.update(found)
        return quote(new, safe="/:?&=[]@!$()*+,;~")

    def _apply_rules(self, text: str, counts: Counter[str], context: str = "") -> str:
        """The text rules over ``text``; ``context`` is what stands before it (a JSON key)."""
        s = text
        if len(s) < 5:
            return s  # shorter than anything a rule finds ("pwd=x")
        on = self._on
        low = s.lower()
        if _ANY_LITERAL.search(low) is not None:
            if "private key" in low or "putty-user-key-file-" in low:
                s = _sub(on, counts, "private_key", _PRIVATE_KEY, _mark("private_key"), s)
            if "eyj" in low:
                s = _sub(on, counts, "jwt", _JWT, _mark("jwt"), s)
            if "authori" in low:
                s = _sub(on, counts, "auth_header", _AUTH_HEADER, _auth_header, s)
            if "bearer" in low or "basic" in low:
                s = _sub(on, counts, "bearer", _BEARER, _bearer, s)
            if "://" in s and "@" in s:
                s = _sub(on, counts, "url_password", _URL_PASSWORD, _KEEP["url_password"], s)
            if ("=" in s or ":" in s) and _has_key_word(low):
                repl = _key_value_auth_apart if "auth_header" in on else _key_value
                s = _sub(on, counts, "key_value", _KEY_VALUE, repl, s)
            if "--" in s and _has_key_word(low):
                s = _sub(on, counts, "key_value", _OPTION_VALUE, _key_value, s)
            if "token" in on and _TOKEN_KEYWORD.search(low) is not None:
                for rule in _TOKEN_RULES:
                    if rule.keywords and any(k in low for k in rule.keywords):
                        s = _sub(on, counts, "token", rule.regex, _KEEP["token"], s)
            if "@" in s:
                s = _sub(on, counts, "email", _EMAIL, _email, s)
        if "token" in on and len(s) >= 30:
            for rule in _UNKEYED_TOKEN_RULES:
                s = _sub(on, counts, "token", rule.regex, _KEEP["token"], s)
        if len(s) >= 13:
            if len(s) >= 40:
                s = _sub(on, counts, "aws_secret_key", _AWS_SECRET, _aws_secret, s)
            if "card" in on and _DIGIT_RUN.search(s):
                s = _sub(on, counts, "card", _CARD, _card_in(context), s)
            if "iban" in on and _IBAN.search(s):
                s = _sub(on, counts, "iban", _IBAN, _iban, s)
        for name, rx in self.extra:
            s = _sub(on, counts, name, rx, _keep_group("secret", name), s)
        return s


# ---------------------------------------------------------------- replacements
def _sub(
    on: frozenset[str],
    counts: Counter[str],
    name: str,
    pattern: re.Pattern[str],
    repl: str | Callable[[re.Match[str]], str],
    s: str,
) -> str:
    """``pattern.sub(repl, s)`` when rule ``name`` is on, counting its new marks."""
    if name not in on:
        return s
    mark = _mark(name)
    before = s.count(mark)
    out = pattern.sub(repl, s)
    if out != s:
        counts[name] += out.count(mark) - before
    return out


def _keep_group(group: str, name: str) -> Callable[[re.Match[str]], str]:
    """A replacement of group ``group`` only (the whole match when the rule has no such group
    or it did not take part)."""

    def repl(m: re.Match[str]) -> str:
        start, end = m.span(group) if group in m.re.groupindex else (-1, -1)
        if start < 0:
            return _mark(name)
        return m.string[m.start() : start] + _mark(name) + m.string[end : m.end()]

    return repl


_KEEP: Final = {name: _keep_group("secret", name) for name in ("url_password", "token")}


def _key_value(m: re.Match[str], auth_apart: bool = False) -> str:
    group = next(
        g
        for g in ("dq", "eq", "sq", "br", "bare")
        if g in m.re.groupindex and m.group(g) is not None
    )
    value = m.group(group)
    if group == "br":
        if value.startswith("[REDACTED:") or value in ("[]", "{}"):
            return m.group(0)
    elif not _looks_secret(value):
        return m.group(0)
    if auth_apart and m.group("key").lower().endswith(("authorization", "authorisation")):
        return m.group(0)  # the auth_header rule handles these
    json_key = m.group("sep").lstrip().startswith(('"', '\\"'))
    start, end = m.span(group)
    if group == "bare" and json_key:
        # A JSON number: replace it with a string, so the JSON stays valid.
        return (
            m.string[m.start() : start] + '"' + _mark("key_value") + '"' + m.string[end : m.end()]
        )
    return m.string[m.start() : start] + _mark("key_value") + m.string[end : m.end()]


def _key_value_auth_apart(m: re.Match[str]) -> str:
    return _key_value(m, auth_apart=True)


def _auth_header(m: re.Match[str]) -> str:
    if m.group("secret").startswith("[REDACTED:") or not _looks_secret(m.group("secret")):
        return m.group(0)
    start, end = m.span("secret")
    return m.string[m.start() : start] + _mark("auth_header") + m.string[end : m.end()]


def _bearer(m: re.Match[str]) -> str:
    secret = m.group("secret")
    # "Basic" and "Bearer" are also English words: their credential is not a plain word.
    header = "authori" in m.string[max(0, m.start() - 40) : m.start()].lower()
    if not header and (
        re.fullmatch(r"[a-z]+", secret)
        or (m.group("kind").lower() == "basic" and not re.search(r"[0-9+/=]", secret))
    ):
        return m.group(0)
    start, end = m.span("secret")
    return m.string[m.start() : start] + _mark("bearer") + m.string[end : m.end()]


def _aws_secret(m: re.Match[str]) -> str:
    v = m.group(0)
    if (
        re.search(r"[A-Z]", v)
        and re.search(r"[a-z]", v)
        and re.search(r"[0-9]", v)
        and _entropy(v) >= 4.0
    ):
        return _mark("aws_secret_key")
    return v


_DIGIT_RUN = re.compile(r"\d(?:[ \-\u3000]?\d){12}")


def _card_in(context: str) -> Callable[[re.Match[str]], str]:
    """The card rule's replacement, for text that follows ``context``."""

    def card(m: re.Match[str]) -> str:
        if _ID_CONTEXT.search((context + m.string[: m.start()])[-40:]):
            return m.group(0)  # the value of an id field (request_id=4040...) is not a card
        digits = "".join(str(unicodedata.decimal(c)) for c in m.group(0) if c.isdecimal())
        if 13 <= len(digits) <= 19 and re.match(_CARD_BRANDS, digits) and luhn_valid(digits):
            return _mark("card")
        return m.group(0)

    return card


def _iban(m: re.Match[str]) -> str:
    text = m.group(0)
    length = IBAN_LENGTHS.get(text[:2])
    if length is None:
        return text
    # The IBAN is the first ``length`` letters and digits of the match.
    taken, cut = 0, len(text)
    for k, ch in enumerate(text):
        if ch != " ":
            taken += 1
            if taken == length:
                cut = k + 1
                break
    if taken < length or not iban_valid(text[:cut]):
        return text
    rest = text[cut:]
    if rest[:1].isalnum():
        return text  # it runs on: part of a longer word
    return _mark("iban") + rest


def _email(m: re.Match[str]) -> str:
    before = m.string[max(0, m.start() - 40) : m.start()]
    after = m.string[m.end() : m.end() + 2]
    if _URL_USER.search(before) or (after[:1] == ":" and after[1:2] not in ("", " ")):
        return m.group(0)  # ssh://git@github.com/..., git@github.com:org/repo
    return _mark("email")


_RE2_UNSUPPORTED = re.compile(r"\(\?[=!<]|\(\?P=|\\[1-9]|[*+?}]\+")


def _re2_compatible(pattern: str) -> bool:
    """A conservative guess whether RE2 (DuckDB, Arrow) accepts a Python pattern."""
    return _RE2_UNSUPPORTED.search(pattern) is None
