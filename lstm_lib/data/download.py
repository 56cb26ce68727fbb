"""Downloads with a cache, a checksum, a timeout and safe archive extraction.

Nothing in the book downloads while it builds; these functions are for readers who opt in to
a bigger data set. Files go to ``cache_dir()``: ``$LSTM_LIB_CACHE`` if set, else
``~/.cache/lstm_lib``. A download is written to a temporary file beside its target, checked
against its SHA-256, and only then renamed into place, so an interrupted or corrupt download
never looks like a finished one.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

__all__ = ["ChecksumError", "cache_dir", "fetch", "safe_extract", "sha256_file"]

_CHUNK = 1 << 20


class ChecksumError(ValueError):
    """A file's SHA-256 is not the expected one."""


def cache_dir() -> Path:
    """``$LSTM_LIB_CACHE`` if set and non-empty, else ``~/.cache/lstm_lib`` (not created)."""
    env = os.environ.get("LSTM_LIB_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "lstm_lib"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch(url: str, filename: str, *, sha256: str, directory: str | os.PathLike | None = None,
          timeout: float = 60.0, opener=None) -> Path:
    """Return the path of ``filename`` in the cache, downloading ``url`` if needed.

    A cached file whose SHA-256 equals ``sha256`` is returned without any network access;
    a cached file with another hash is downloaded again. The download streams into a
    temporary file in the same directory, is hashed on the way, and is renamed into place
    (``os.replace``, atomic) only if the hash matches.

    Args:
        url: where to download from (``file://`` URLs work too).
        filename: the file name inside ``directory``.
        sha256: the expected hex digest (required: every download is verified).
        directory: defaults to :func:`cache_dir`.
        timeout: seconds for the connection and for each read.
        opener: ``urllib.request.urlopen``-like callable, for tests.

    Raises:
        ChecksumError: the downloaded file has another SHA-256 (nothing is kept).
        ConnectionError: the URL cannot be reached (offline, DNS, timeout, HTTP error);
            the message says where to put the file by hand.
    """
    if not isinstance(sha256, str) or len(sha256) != 64:
        raise ValueError(f"sha256 must be a 64-character hex digest, got {sha256!r}")
    sha256 = sha256.lower()
    directory = Path(directory) if directory is not None else cache_dir()
    target = directory / filename
    if target.is_file() and sha256_file(target) == sha256:
        return target
    directory.mkdir(parents=True, exist_ok=True)
    opener = opener if opener is not None else urllib.request.urlopen
    fd, tmp = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                response = opener(url, timeout=timeout)
            except (urllib.error.URLError, OSError) as err:  # TimeoutError is an OSError
                raise _unreachable(url, target, sha256, err) from err
            with response:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (urllib.error.URLError, OSError) as err:
                        raise _unreachable(url, target, sha256, err) from err
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
        got = digest.hexdigest()
        if got != sha256:
            raise ChecksumError(f"SHA-256 mismatch for {url}: expected {sha256}, got {got}; "
                                f"the download was discarded")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _unreachable(url: str, target: Path, sha256: str, err: Exception) -> ConnectionError:
    return ConnectionError(
        f"could not download {url} ({err}). If this machine is offline, download the file "
        f"elsewhere and place it at {target} (SHA-256 {sha256}); it is then used without "
        f"any network access. Set LSTM_LIB_CACHE to change the directory.")


def _check_member(member: tarfile.TarInfo, dest: Path) -> None:
    name = member.name
    parts = PurePosixPath(name).parts
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or ".." in parts \
            or (len(name) > 1 and name[1] == ":"):
        raise ValueError(f"refusing to extract {name!r}: absolute path or '..' component")
    target = (dest / name).resolve()
    if not target.is_relative_to(dest):
        raise ValueError(f"refusing to extract {name!r}: it would land outside {dest}")
    if member.issym() or member.islnk():
        link = member.linkname
        base = target.parent if member.issym() else dest
        if PurePosixPath(link).is_absolute() or not (base / link).resolve().is_relative_to(dest):
            raise ValueError(f"refusing to extract {name!r}: link to {link!r} points "
                             f"outside {dest}")
    elif not (member.isfile() or member.isdir()):
        raise ValueError(f"refusing to extract {name!r}: not a regular file or directory")


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a tar archive (any compression) into ``dest``, refusing unsafe members.

    Every member is checked before anything is written: absolute paths, ``..`` components,
    symbolic or hard links that point outside ``dest``, and device files or FIFOs raise
    ``ValueError``. Extraction then uses tarfile's ``"data"`` filter where this Python has it
    (3.11.4+, PEP 706), which enforces the same rules again and drops unsafe permissions.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    with tarfile.open(archive) as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member, dest)
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, members=members, filter="data")
        else:  # pragma: no cover - Python < 3.11.4; members were checked above
            tar.extractall(dest, members=members)
    return dest
