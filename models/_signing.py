"""Proof of origin for model blobs: an HMAC-SHA256 signature with a key kept outside the store.

A registry version is a pickle, and unpickling runs code.  Its SHA-256 (stored beside it)
detects corruption but not a writer: whoever can write the DuckDB file can replace the blob
and fix the hash.  So every blob is also signed with a key that is not in the store, and a
blob whose signature does not verify is never unpickled.

The key is, in order: the ``FAULTCAST_MODEL_KEY`` environment variable (the key itself, at
least 32 characters), else the file ``$XDG_CONFIG_HOME/faultcast/model.key`` (or
``~/.config/faultcast/model.key``), created on first use with 32 random bytes and mode 0600.
The signature covers the model's name and version as well as the blob, so a signed blob
cannot be moved to another name or version.

Examples
--------
>>> key = b"k" * 32
>>> sig = sign("demo", 1, b"blob", key)
>>> [verify("demo", 1, b"blob", sig, key), verify("demo", 2, b"blob", sig, key),
...  verify("demo", 1, b"other", sig, key), verify("demo", 1, b"blob", sig, b"j" * 32)]
[True, False, False, False]
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Final

from faultcast.ingest.errors import FaultcastError

#: The environment variable that holds the key itself (it wins over the key file).
KEY_ENV: Final[str] = "FAULTCAST_MODEL_KEY"
#: The shortest key accepted from :data:`KEY_ENV` (characters).
MIN_KEY_CHARS: Final[int] = 32
_DOMAIN: Final[bytes] = b"faultcast-model-v1\0"


class ModelKeyError(FaultcastError):  # type: ignore[misc,unused-ignore]
    """The model key is missing, too short or unsafe (readable or writable by other users)."""


def key_path() -> Path:
    """Where the key file is: ``$XDG_CONFIG_HOME/faultcast/model.key`` or
    ``~/.config/faultcast/model.key``."""
    config = os.environ.get("XDG_CONFIG_HOME")
    if not config:
        try:
            config = str(Path.home() / ".config")
        except RuntimeError as e:  # no HOME and no password entry
            raise ModelKeyError(
                f"no home directory to keep the model key in: set {KEY_ENV} (a secret of at "
                f"least {MIN_KEY_CHARS} characters) or XDG_CONFIG_HOME"
            ) from e
    return Path(config) / "faultcast" / "model.key"


def _create(path: Path) -> None:
    """Write a new random key to ``path`` (0600), unless another process just did."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".model.key.", dir=path.parent)  # mode 0600
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32) + "\n")
            f.flush()
            os.fsync(f.fileno())
        # Atomic, and fails when the key exists: the first process to create it wins.
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


def model_key() -> bytes:
    """The signing key (see the module docstring); creates the key file on first use."""
    given = os.environ.get(KEY_ENV)
    if given is not None:
        if len(given.strip()) < MIN_KEY_CHARS:
            raise ModelKeyError(
                f"{KEY_ENV} is set but shorter than {MIN_KEY_CHARS} characters: use a long "
                "random secret (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)"
            )
        return given.strip().encode()
    path = key_path()
    if not path.exists():
        try:
            _create(path)
        except OSError as e:
            raise ModelKeyError(
                f"cannot create the model key {path}: {e}; set {KEY_ENV} or XDG_CONFIG_HOME"
            ) from e
    try:
        info = path.stat()
        if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ModelKeyError(
                f"the model key {path} is accessible by other users (mode "
                f"{stat.S_IMODE(info.st_mode):o}); whoever can read it can sign models: "
                f"run `chmod 600 {path}`"
            )
        key = path.read_text().strip()
    except OSError as e:
        raise ModelKeyError(f"cannot read the model key {path}: {e}") from e
    if len(key) < MIN_KEY_CHARS:
        raise ModelKeyError(
            f"the model key {path} holds fewer than {MIN_KEY_CHARS} characters: delete it to "
            "have a new one made (then re-sign the models you trust: `faultcast models resign`)"
        )
    return key.encode()


def _message(name: str, version: int, blob: bytes) -> bytes:
    return _DOMAIN + name.encode() + b"\0" + str(int(version)).encode() + b"\0" + blob


def sign(name: str, version: int, blob: bytes, key: bytes | None = None) -> str:
    """The hex HMAC-SHA256 of version ``version`` of model ``name`` holding ``blob``."""
    return hmac.new(key or model_key(), _message(name, version, blob), hashlib.sha256).hexdigest()


def verify(
    name: str, version: int, blob: bytes, signature: str | None, key: bytes | None = None
) -> bool:
    """Whether ``signature`` is this machine's signature of the blob (constant time)."""
    if not signature:
        return False
    return hmac.compare_digest(sign(name, version, blob, key), signature)


__all__ = ["KEY_ENV", "ModelKeyError", "key_path", "model_key", "sign", "verify"]
