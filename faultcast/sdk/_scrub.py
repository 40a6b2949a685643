"""Keep secrets out of the log: values of secret-named keys and secrets inside text."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

from faultcast.sdk._redact import Redactor

#: The placeholder for the value of a secret-named key.
REDACTED: Final[str] = "[REDACTED]"

# A key names a secret when it ends in one of these words (db_password, x-api-key,
# client_secret, AWS_SECRET_ACCESS_KEY, Authorization, ...).
_SECRET_KEY = re.compile(
    r"(?:passw(?:or)?d|passwd|pwd|passphrase|secret|secret[_-]?key|token|api[_-]?key|apikey|"
    r"access[_-]?key|private[_-]?key|credentials?|authorization|cookie|set-cookie)$",
    re.IGNORECASE,
)
_MAX_DEPTH: Final[int] = 4
_redactor: Redactor | None = None


def is_secret_key(key: object) -> bool:
    """Whether a key's value must never be logged.

    >>> is_secret_key("db_password"), is_secret_key("X-Api-Key"), is_secret_key("order_id")
    (True, True, False)
    """
    return isinstance(key, str) and _SECRET_KEY.search(key) is not None


def scrub_text(text: str) -> str:
    """The text with secrets (passwords in key=value form, bearer tokens, keys, cards, ...)
    replaced by ``[REDACTED:<rule>]``, by the same rules as the ingest.

    >>> scrub_text("login failed: password=hunter2 for bob")
    'login failed: password=[REDACTED:key_value] for bob'
    """
    global _redactor
    if _redactor is None:
        _redactor = Redactor()
    return str(_redactor.redact(text)[0])


def scrub(value: Any, depth: int = 0) -> Any:
    """A copy of a mapping (or list) whose secret-named keys hold ``[REDACTED]``, at any depth;
    other values as they are.

    >>> scrub({"user": "bob", "password": "hunter2", "headers": {"Authorization": "Bearer x"}})
    {'user': 'bob', 'password': '[REDACTED]', 'headers': {'Authorization': '[REDACTED]'}}
    """
    if depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if is_secret_key(k) else scrub(v, depth + 1)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v, depth + 1) for v in value]
    return value
