"""Where alerts go: any Apprise URL (``json://``, ``slack://``, ``mailto://``, ``ntfy://``, ...)
and Prometheus Alertmanager's v2 API.

A notifier has a ``target`` (its URL with secrets masked: the only form that is logged,
stored or printed), a ``target_id`` (a hash of the full URL, to remember what it was sent)
and ``send(messages) -> list[str | None]`` (per message: None when delivered, else why not).
Sending never raises: a failure is returned, logged and retried at the next evaluation.
"""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

from faultcast.ingest._log import get_logger

log = get_logger(__name__)

__all__ = ["AlertmanagerNotifier", "AppriseNotifier", "Message", "Notifier", "mask_url"]

_SECRETISH: Final = re.compile(r"[A-Za-z0-9_\-.~%+]{6,}")
#: Apprise's log lines begin "2026-01-01 00:00:00,000 - WARNING - ": the message follows.
_LOG_PREFIX: Final = re.compile(r"^.*? - [A-Z]+ - ")


@dataclass
class Message:
    """One notification: an alert's change (``kind``: firing, renotify or resolved)."""

    kind: str
    alert: dict[str, Any]
    title: str
    body: str
    #: For Alertmanager: its labels, annotations and times.
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    starts_at: datetime | None = None
    ends_at: datetime | None = None


class Notifier(Protocol):
    target: str
    target_id: str
    #: Alertmanager wants every firing alert again at each evaluation (it forgets alerts that
    #: are not refreshed); a chat or mail target wants each change once.
    refresh: bool

    def send(self, messages: list[Message]) -> list[str | None]: ...


def _target_id(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:16]


def mask_url(url: str) -> str:
    """``url`` with its secrets masked, for logs and output: Apprise's own masking for its
    URLs (passwords, tokens, keys), a masked password and query for plain http(s) URLs.

    >>> mask_url("http://admin:hunter22@127.0.0.1:9093")
    'http://admin:****@127.0.0.1:9093'
    >>> mask_url("json://127.0.0.1:8000/hook")
    'json://127.0.0.1:8000/hook'
    """
    parts = urlsplit(url)
    if parts.scheme in ("http", "https"):
        netloc = parts.netloc
        if parts.password is not None:
            netloc = netloc.replace(f":{parts.password}@", ":****@", 1)
        query = "****" if parts.query else ""
        return urlunsplit((parts.scheme, netloc, parts.path, query, ""))
    try:
        import apprise

        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
    except Exception:  # an unusable URL: show its scheme only
        plugin = None
    if not plugin:
        return f"{parts.scheme or '?'}://****"
    shown = str(plugin.url(privacy=True))  # type: ignore[no-untyped-call]
    return shown.split("?", 1)[0]  # Apprise's default options only lengthen it


def _scrub(text: str, url: str, shown: str) -> str:
    """``text`` with every long token of ``url`` that the masked form hides replaced."""
    for token in sorted(set(_SECRETISH.findall(url)), key=len, reverse=True):
        if token not in shown:
            text = text.replace(token, "****")
    return text


class AppriseNotifier:
    """One Apprise URL (see https://github.com/caronc/apprise/wiki for the services).

    ``AppriseNotifier("json://127.0.0.1:8000/hook")`` posts each message as JSON (``title``,
    ``message``, ``type``) to that address; ``slack://``, ``mailto://``, ``ntfy://``... the same
    through their service.

    Examples
    --------
    >>> AppriseNotifier("mailto://ops:hunter2secret@example.com").target
    'mailto://ops:****@example.com/'
    >>> AppriseNotifier("nonsense://x")
    Traceback (most recent call last):
    ...
    ValueError: nonsense://**** is not a notification URL Apprise knows (json://HOST/PATH, slack://..., mailto://..., ntfy://...: see https://github.com/caronc/apprise/wiki)
    """

    refresh = False

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        import apprise

        self._url = url
        self.target = mask_url(url)
        self.target_id = _target_id(url)
        self._apprise = apprise.Apprise()
        if not self._apprise.add(url):
            raise ValueError(
                f"{self.target} is not a notification URL Apprise knows "
                "(json://HOST/PATH, slack://..., mailto://..., ntfy://...: see "
                "https://github.com/caronc/apprise/wiki)"
            )
        self.timeout = timeout

    def send(self, messages: list[Message]) -> list[str | None]:
        import apprise

        results: list[str | None] = []
        for m in messages:
            notify_type = (
                apprise.NotifyType.SUCCESS if m.kind == "resolved" else apprise.NotifyType.FAILURE
            )
            with apprise.LogCapture(level=apprise.logging.WARNING) as captured:  # type: ignore[no-untyped-call]
                try:
                    ok = bool(
                        self._apprise.notify(body=m.body, title=m.title, notify_type=notify_type)
                    )
                    error = None if ok else (captured.getvalue().strip() or "not delivered")
                except Exception as e:  # a plugin's bug must not end the evaluation
                    error = f"{type(e).__name__}: {e}"
            if error is not None:
                last = _LOG_PREFIX.sub("", error.splitlines()[-1])
                error = _scrub(last, self._url, self.target)
            results.append(error)
        return results


class AlertmanagerNotifier:
    """Prometheus Alertmanager's v2 API: ``POST {url}/api/v2/alerts`` with the alerts as a list
    (labels ``alertname``, ``rule``, ``unit``, ``pattern``, ``severity``; annotations
    ``summary``, ``description``, ...; ``startsAt``, and ``endsAt``: in ``alertmanager_ttl``
    while firing, the time of resolution once resolved).  Every firing alert is sent again at
    each evaluation, as Prometheus does, so Alertmanager keeps it; its own routes, grouping,
    repeat interval and silences apply from there.

    Examples
    --------
    >>> AlertmanagerNotifier("http://admin:hunter2secret@127.0.0.1:9093").target
    'http://admin:****@127.0.0.1:9093'
    """

    refresh = True

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(
                f"--alertmanager takes Alertmanager's http(s) address, such as "
                f"http://127.0.0.1:9093, not {mask_url(url)!r}"
            )
        self._url = url.rstrip("/")
        self.target = mask_url(url)
        self.target_id = _target_id(url)
        self.timeout = timeout

    def send(self, messages: list[Message]) -> list[str | None]:
        if not messages:
            return []
        payload = [
            {
                "labels": m.labels,
                "annotations": m.annotations,
                **({"startsAt": m.starts_at.isoformat()} if m.starts_at else {}),
                **({"endsAt": m.ends_at.isoformat()} if m.ends_at else {}),
            }
            for m in messages
        ]
        parts = urlsplit(self._url)
        headers = {"Content-Type": "application/json"}
        if parts.username is not None:
            import base64

            pair = f"{parts.username}:{parts.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        netloc = parts.hostname or ""
        if parts.port:
            netloc = f"{netloc}:{parts.port}"
        endpoint = urlunsplit((parts.scheme, netloc, parts.path + "/api/v2/alerts", "", ""))
        request = urllib.request.Request(
            endpoint, json.dumps(payload).encode(), headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                answer.read()
            error = None
        except urllib.error.HTTPError as e:
            error = f"Alertmanager answered {e.code}: {e.read()[:200].decode(errors='replace')}"
        except (urllib.error.URLError, OSError) as e:
            error = f"Alertmanager unreachable: {getattr(e, 'reason', e)}"
        if error is not None:
            error = _scrub(error, self._url, self.target)
        return [error] * len(messages)


def notifier(url: str, *, alertmanager: bool = False) -> Notifier:
    """The notifier of one URL (``alertmanager=True``: Alertmanager's address)."""
    return AlertmanagerNotifier(url) if alertmanager else AppriseNotifier(url)
