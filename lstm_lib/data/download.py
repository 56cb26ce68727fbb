"""Downloads with a cache, a checksum, a timeout and safe archive extraction.

Nothing in the book downloads while it builds; these functions are for readers who opt in to
a bigger data set. Files go to ``cache_dir()``: ``$LSTM_LIB_CACHE`` if set, else
``~/.cache/lstm_lib``. A download is written to a temporary file beside its target, checked
against its SHA-256, and only then renamed into place, so an interrupted or corrupt download
never looks like a finished one.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import lzma
import math
import os
import re
import sys
import tarfile
import tempfile
import urllib.error
import urllib.request
import zlib
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
    if not isinstance(url, str) or not url:
        raise TypeError(f"url must be a non-empty str, got {url!r}")
    if not isinstance(filename, str) or not filename or filename in (".", "..") \
            or re.search(r"[\\/\x00]", filename) or (len(filename) > 1 and filename[1] == ":"):
        raise ValueError(f"filename must be a plain file name (no directory part, no '/', "
                         f"'\\' or '..'), got {filename!r}")
    if not isinstance(sha256, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha256):
        raise ValueError(f"sha256 must be a 64-character hex digest, got {sha256!r}")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) \
            or not math.isfinite(timeout) or timeout <= 0:
        raise ValueError(f"timeout must be a finite number of seconds > 0, got {timeout!r}")
    if opener is not None and not callable(opener):
        raise TypeError(f"opener must be callable like urllib.request.urlopen, got {opener!r}")
    if directory is not None and not isinstance(directory, str | os.PathLike):
        raise TypeError(f"directory must be a path or None, got {type(directory).__name__}")
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


# ----------------------------------------------------------------------------- extraction

_MAX_LINK_HOPS = 40  # as the Linux kernel's limit on symbolic links followed in one lookup
# On case-insensitive file systems "A" and "a" are one name; links are looked up that way.
_CASE_INSENSITIVE = sys.platform in ("darwin", "win32")


class _Escape(Exception):
    """A path resolved through the archive's links leaves the destination."""


def _split(name: str) -> list[str]:
    """Components of a member name or link target; '\\' counts as a separator everywhere."""
    return [p for p in re.split(r"[\\/]+", name) if p not in ("", ".")]


def _is_absolute(name: str) -> bool:
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":")


class _Tree:
    """The destination as the archive will leave it: the symbolic links declared so far.

    :meth:`resolve` walks a relative path one component at a time, as the operating system
    does: a component that is a symbolic link (declared earlier in the archive, or already on
    disk) is replaced by its target, so chains of links are followed, and '..' climbs the
    *resolved* path. Any step above the destination, any absolute target and more than
    ``_MAX_LINK_HOPS`` links raise :class:`_Escape`.
    """

    def __init__(self, dest: Path):
        self.dest = dest
        self.links: dict[tuple[str, ...], str] = {}
        self.check_disk = any(dest.iterdir())   # links already there count too

    @staticmethod
    def key(parts) -> tuple[str, ...]:
        return tuple(p.casefold() for p in parts) if _CASE_INSENSITIVE else tuple(parts)

    def resolve(self, parts, *, follow_last: bool = True) -> tuple[str, ...]:
        out: list[str] = []
        todo = list(parts)
        hops = 0
        while todo:
            comp = todo.pop(0)
            if comp in ("", "."):
                continue
            if comp == "..":
                if not out:
                    raise _Escape("a '..' climbs above the destination")
                out.pop()
                continue
            out.append(comp)
            if not todo and not follow_last:
                break
            target = self.links.get(self.key(out))
            on_disk = self.dest.joinpath(*out)
            if target is None and self.check_disk and on_disk.is_symlink():
                real = Path(os.path.realpath(on_disk))
                if not real.is_relative_to(self.dest):
                    raise _Escape(f"the existing link {on_disk} points to {real}")
                out = list(real.relative_to(self.dest).parts)
                continue
            if target is None:
                continue
            hops += 1
            if hops > _MAX_LINK_HOPS:
                raise _Escape(f"more than {_MAX_LINK_HOPS} symbolic links in a row")
            if _is_absolute(target):
                raise _Escape(f"a link in the chain has the absolute target {target!r}")
            out.pop()
            todo = _split(target) + todo
        return tuple(out)


def _check_members(members: list[tarfile.TarInfo], dest: Path, archive) -> None:
    """Raise ``ValueError`` for the first member that is unsafe to extract into ``dest``."""
    tree = _Tree(dest)
    seen: set[tuple[str, ...]] = set()  # every path an earlier member created (and its parents)

    def refuse(member, why):
        return ValueError(f"refusing to extract {member.name!r} from {archive}: {why}")

    for m in members:
        name = m.name
        if _is_absolute(name) or PurePosixPath(name).is_absolute():
            raise refuse(m, "absolute path")
        parts = _split(name)
        if ".." in parts:
            raise refuse(m, "a '..' component")
        if not parts:
            raise refuse(m, "empty name")
        if not (m.isfile() or m.isdir() or m.issym() or m.islnk()):
            raise refuse(m, "not a regular file, directory or link (a device file or FIFO)")
        try:
            parent = tree.resolve(parts[:-1])
            here = (*parent, parts[-1])
            if m.issym():
                if _is_absolute(m.linkname):
                    raise _Escape(f"link to the absolute path {m.linkname!r}")
                if tree.key(here) in seen:
                    raise _Escape("a symbolic link replaces a path an earlier member made, "
                                  "which would change where earlier links point")
                tree.resolve([*parent, *_split(m.linkname)])
                tree.links[tree.key(here)] = m.linkname
            elif m.islnk():   # hard links name a path inside the archive, from its root
                if _is_absolute(m.linkname):
                    raise _Escape(f"hard link to the absolute path {m.linkname!r}")
                tree.resolve(_split(m.linkname))
            else:             # writing a file through an existing link lands at its target
                here = tree.resolve(parts)
        except _Escape as err:
            link = f" (link to {m.linkname!r})" if m.issym() or m.islnk() else ""
            raise refuse(m, f"it would land outside {dest}{link}: {err}") from None
        seen.update(tree.key(here[:k]) for k in range(1, len(here) + 1))
    # A link declared later can change what an earlier target means ('a/..' through a link
    # to '.'), so every link is resolved once more against the complete set.
    for where, target in tree.links.items():
        try:
            tree.resolve([*where[:-1], *_split(target)])
        except _Escape as err:
            raise ValueError(f"refusing to extract {'/'.join(where)!r} from {archive}: its "
                             f"link to {target!r} leaves {dest} through later links: "
                             f"{err}") from None


def _without_unsafe_bits(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """A copy that extracts like the "data" filter's: no set-uid/gid bits, owner-writable."""
    member = copy.copy(member)
    if member.isdir():
        member.mode = 0o755
    elif not (member.issym() or member.islnk()):
        member.mode = (member.mode & 0o755) | 0o600
    member.uid, member.gid, member.uname, member.gname = os.getuid(), os.getgid(), "", ""
    return member


_UNREADABLE = (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError)


def _unreadable(archive: Path, err: BaseException) -> ValueError:
    return ValueError(f"archive {archive} is not a readable tar archive (empty, truncated or "
                      f"corrupt: {type(err).__name__}: {err}); delete it and download again")


def safe_extract(archive: str | os.PathLike, dest: str | os.PathLike) -> Path:
    """Extract a tar archive (any compression) into ``dest``, refusing unsafe members.

    Every member is checked before anything is written, on every Python: absolute paths,
    ``..`` components, device files and FIFOs, and any member whose path -- after following
    the symbolic links declared before it in the archive (chains included) or already in
    ``dest`` -- leaves ``dest``, raise ``ValueError``; so do symbolic links whose target, and
    hard links whose source, resolve outside ``dest``, and links that replace a path an
    earlier member made. Where this Python has tarfile's ``"data"`` filter (3.11.4+, PEP 706),
    extraction uses it, which enforces the same rules again on disk and drops unsafe
    permissions; elsewhere (3.10.0-3.10.11, 3.11.0-3.11.3) the members are extracted one by
    one, without set-uid bits and with the caller's ownership.

    Raises:
        FileNotFoundError: ``archive`` does not exist.
        ValueError: an unsafe member (the message starts "refusing to extract"), or an empty,
            truncated or corrupt archive (the message names the file). After a truncated
            archive fails part-way, ``dest`` may hold some members: extract into a fresh
            directory (as :func:`lstm_lib.data.download_imdb` does) and delete it on error.
    """
    if not isinstance(archive, str | os.PathLike):
        raise TypeError(f"archive must be a path, got {type(archive).__name__}")
    if not isinstance(dest, str | os.PathLike):
        raise TypeError(f"dest must be a path, got {type(dest).__name__}")
    archive = Path(archive)
    if not archive.is_file():
        raise FileNotFoundError(f"archive {archive} does not exist or is not a file")
    if archive.stat().st_size == 0:
        raise ValueError(f"archive {archive} is empty (0 bytes); delete it and download again")
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise NotADirectoryError(f"dest {dest} exists and is not a directory")
    tar = None
    try:
        tar = tarfile.open(archive)
        members = tar.getmembers()        # reads the whole archive: truncation shows here
    except _UNREADABLE as err:
        if tar is not None:
            tar.close()
        raise _unreadable(archive, err) from None
    with tar:
        if not members:
            raise ValueError(f"archive {archive} holds no members")
        dest.mkdir(parents=True, exist_ok=True)
        dest = dest.resolve()
        _check_members(members, dest, archive)
        try:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(dest, members=members, filter="data")
            else:  # Python < 3.11.4: the members were checked above, link chains included
                extra = {"filter": "fully_trusted"} if hasattr(tarfile, "fully_trusted_filter") \
                    else {}
                tar.extractall(dest, members=[_without_unsafe_bits(m) for m in members],
                               **extra)
        except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError, gzip.BadGzipFile) as err:
            if isinstance(err, getattr(tarfile, "FilterError", ())):
                raise ValueError(f"refusing to extract from {archive}: {err}") from None
            raise _unreadable(archive, err) from None
    return dest
