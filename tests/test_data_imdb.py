"""lstm_lib.data.imdb and download: a tiny aclImdb-shaped archive, served without a network."""

from __future__ import annotations

import hashlib
import io
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from lstm_lib import data
from lstm_lib.data import download as dl

REVIEWS = {
    ("train", "pos"): ["A great film!<br /><br />Loved it.", "Wonderful acting, great plot."],
    ("train", "neg"): ["Terrible. Boring<br />and long.", "I didn't like it at all.",
                       "Awful, just awful?"],
    ("test", "pos"): ["Great fun, zanzibar!"],
    ("test", "neg"): ["Boring and bad."],
}


pytestmark = pytest.mark.usefixtures("no_network")


def _add_bytes(tar: tarfile.TarFile, name: str, payload: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


@pytest.fixture
def archive(tmp_path) -> tuple[Path, str]:
    """A tiny aclImdb_v1.tar.gz and its SHA-256. File ids are numbered so that name order
    ("10_..." < "2_...") differs from numeric order."""
    path = tmp_path / "served" / "aclImdb_v1.tar.gz"
    path.parent.mkdir()
    with tarfile.open(path, "w:gz") as tar:
        for (split, label), texts in REVIEWS.items():
            for i, text in enumerate(texts):
                rating = 9 if label == "pos" else 2
                _add_bytes(tar, f"aclImdb/{split}/{label}/{[2, 10, 11][i]}_{rating}.txt",
                           text.encode())
        _add_bytes(tar, "aclImdb/README", b"tiny fixture")
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


class CountingOpener:
    """urlopen stand-in that serves a local file and counts calls."""

    def __init__(self, path: Path | None = None, error: Exception | None = None):
        self.path, self.error, self.calls = path, error, 0

    def __call__(self, url, timeout=None):
        self.calls += 1
        assert timeout is not None                             # a timeout is always given
        if self.error is not None:
            raise self.error
        return open(self.path, "rb")


def test_download_read_and_cache(archive, tmp_path):
    path, sha = archive
    cache = tmp_path / "cache"
    root = data.download_imdb(directory=cache, url=path.as_uri(), sha256=sha)
    assert root == cache / "aclImdb" and (cache / "aclImdb_v1.tar.gz").is_file()
    texts, labels = data.read_imdb(root, "train")
    assert labels.dtype == np.int64 and labels.tolist() == [0, 0, 0, 1, 1]
    assert texts[:3] == REVIEWS[("train", "neg")]              # numeric id order: 2, 10, 11
    assert texts[3:] == REVIEWS[("train", "pos")]
    # a second call is served from the cache: the opener is never called
    never = CountingOpener(error=AssertionError("must not download again"))
    assert data.download_imdb(directory=cache, url=path.as_uri(), sha256=sha,
                              opener=never) == root
    assert never.calls == 0
    assert not list(cache.glob(".*"))                          # no temporary leftovers


def test_fetch_uses_cached_file_and_redownloads_corrupt_one(archive, tmp_path):
    path, sha = archive
    opener = CountingOpener(path)
    first = data.fetch("https://example.invalid/a.tgz", "a.tgz", sha256=sha,
                       directory=tmp_path, opener=opener)
    second = data.fetch("https://example.invalid/a.tgz", "a.tgz", sha256=sha,
                        directory=tmp_path, opener=opener)
    assert first == second and opener.calls == 1
    first.write_bytes(b"truncated")                            # a corrupt cached file
    data.fetch("https://example.invalid/a.tgz", "a.tgz", sha256=sha, directory=tmp_path,
               opener=opener)
    assert opener.calls == 2 and data.sha256_file(first) == sha


def test_checksum_mismatch_keeps_nothing(archive, tmp_path):
    path, sha = archive
    wrong = "0" * 64
    with pytest.raises(data.ChecksumError, match=f"expected {wrong}, got {sha}"):
        data.download_imdb(directory=tmp_path / "c", url=path.as_uri(), sha256=wrong)
    assert list((tmp_path / "c").iterdir()) == []              # no archive, no .part file
    with pytest.raises(ValueError, match="64-character hex digest"):
        data.fetch(path.as_uri(), "x", sha256="abc", directory=tmp_path)


def test_offline_error_says_where_to_put_the_file(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    monkeypatch.setenv("LSTM_LIB_CACHE", str(tmp_path / "envcache"))
    with pytest.raises(ConnectionError, match="place it at .*aclImdb_v1.tar.gz") as info:
        data.imdb_dataset()
    assert data.IMDB_SHA256 in str(info.value)
    assert isinstance(info.value.__cause__, urllib.error.URLError)
    assert not list((tmp_path / "envcache").iterdir())


def test_timeout_is_a_connection_error(tmp_path):
    opener = CountingOpener(error=TimeoutError("timed out"))
    with pytest.raises(ConnectionError, match="timed out"):
        data.fetch("https://example.invalid/x", "x", sha256="a" * 64, directory=tmp_path,
                   opener=opener, timeout=0.5)


def test_cache_dir_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LSTM_LIB_CACHE", str(tmp_path))
    assert data.cache_dir() == tmp_path
    monkeypatch.delenv("LSTM_LIB_CACHE")
    assert data.cache_dir() == Path.home() / ".cache" / "lstm_lib"


def _evil_tar(path: Path, kind: str) -> None:
    with tarfile.open(path, "w:gz") as tar:
        _add_bytes(tar, "aclImdb/train/pos/1_9.txt", b"fine")
        if kind in ("dotdot", "absolute"):
            name = "aclImdb/../../evil.txt" if kind == "dotdot" else "/tmp/evil.txt"
            _add_bytes(tar, name, b"escaped")
        else:
            info = tarfile.TarInfo("aclImdb/link")
            info.type = tarfile.SYMTYPE if kind.startswith("symlink") else tarfile.LNKTYPE
            info.linkname = {"symlink_abs": "/etc/passwd", "symlink_up": "../../../etc/passwd",
                             "hardlink": "../outside.txt"}[kind]
            tar.addfile(info)


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "symlink_abs", "symlink_up",
                                  "hardlink"])
def test_unsafe_archive_members_are_refused(tmp_path, kind):
    evil = tmp_path / "evil.tar.gz"
    _evil_tar(evil, kind)
    dest = tmp_path / "out" / "inner"
    with pytest.raises(ValueError, match="refusing to extract"):
        data.safe_extract(evil, dest)
    assert not (tmp_path / "out" / "evil.txt").exists() and not (tmp_path / "evil.txt").exists()
    assert not (dest / "aclImdb").exists()                     # checked before writing
    sha = data.sha256_file(evil)
    with pytest.raises(ValueError, match="refusing to extract"):
        data.download_imdb(directory=tmp_path / "cache", url=evil.as_uri(), sha256=sha)
    assert not (tmp_path / "cache" / "aclImdb").exists()


def test_safe_extract_allows_links_inside(tmp_path):
    good = tmp_path / "good.tar"
    with tarfile.open(good, "w") as tar:
        _add_bytes(tar, "d/a.txt", b"A")
        info = tarfile.TarInfo("d/b.txt")
        info.type, info.linkname = tarfile.SYMTYPE, "a.txt"
        tar.addfile(info)
    out = data.safe_extract(good, tmp_path / "x")
    assert (out / "d" / "b.txt").read_text() == "A"


def test_tokenize_and_pad():
    assert data.tokenize("It's <br />GREAT!<BR>Don't,go") == ["it's", "great", "!", "don't",
                                                              "go"]
    ids, lengths = data.pad_sequences([[1, 2, 3], [4], []], max_len=2)
    np.testing.assert_array_equal(ids, [[1, 2], [4, 0], [0, 0]])
    np.testing.assert_array_equal(lengths, [2, 1, 0])
    ids, _ = data.pad_sequences([[1, 2, 3]], max_len=2, keep="last", pad_id=9)
    np.testing.assert_array_equal(ids, [[2, 3]])
    with pytest.raises(ValueError, match="keep must be 'first' or 'last'"):
        data.pad_sequences([[1]], 2, keep="middle")
    with pytest.raises(ValueError, match="max_len must be >= 1"):
        data.pad_sequences([[1]], 0)


def test_imdb_dataset_end_to_end(archive, tmp_path):
    path, sha = archive
    d = data.imdb_dataset(max_len=6, min_freq=1, directory=tmp_path, url=path.as_uri(),
                          sha256=sha)
    assert d.x_train.shape == (5, 6) and d.x_test.shape == (2, 6)
    assert d.y_test.tolist() == [0, 1] and d.len_train.dtype == np.int64
    assert "great" in d.vocab and "zanzibar" not in d.vocab    # vocabulary from train only
    test_pos = d.vocab.decode(d.x_test[1])
    assert test_pos == ["great", "<unk>", "<unk>", "!"] and d.len_test[1] == 4
    assert d.vocab.decode(d.x_train[0]) == ["terrible", "boring", "and", "long"]


def test_read_imdb_validation(tmp_path):
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        data.read_imdb(tmp_path, "unsup")
    with pytest.raises(FileNotFoundError, match="missing directory"):
        data.read_imdb(tmp_path, "train")


def test_fetch_reports_missing_file_url(tmp_path):
    with pytest.raises(ConnectionError, match="could not download"):
        dl.fetch((tmp_path / "nope.tgz").as_uri(), "nope.tgz", sha256="b" * 64,
                 directory=tmp_path / "c")


def test_pad_sequences_pre_padding_keeps_the_last_ids_in_the_last_columns():
    from lstm_lib.data import pad_sequences

    ids, lengths = pad_sequences([[1, 2, 3, 4], [5], []], 3, keep="last", padding="pre")
    assert ids.tolist() == [[2, 3, 4], [0, 0, 5], [0, 0, 0]] and lengths.tolist() == [3, 1, 0]
    with pytest.raises(ValueError, match="padding must be"):
        pad_sequences([[1]], 2, padding="left")
