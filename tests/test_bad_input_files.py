"""Hostile files: malicious and broken tar archives, downloads, and checkpoints.

Every malicious archive is extracted twice: with tarfile's "data" filter (Python 3.11.4+) and
through the fallback that Pythons without it take (3.10.0-3.10.11, 3.11.0-3.11.3), simulated
by removing ``tarfile.data_filter``. Both must refuse before writing anything.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import stat
import tarfile
from pathlib import Path

import pytest
import torch
from torch import nn

from lstm_lib import data
from lstm_lib.train import History, TrainConfig, load_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


# ----------------------------------------------------------------------------- archives

def _file(name: str, content: bytes = b"x", mode: int = 0o644) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(content), mode
    return info, content


def _link(name: str, target: str, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    return info, None


def _special(name: str, kind: bytes) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    return info, None


def _tar(path: Path, members, mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:
        for info, content in members:
            tar.addfile(info, io.BytesIO(content) if content is not None else None)
    return path


@pytest.fixture(params=["data_filter", "fallback"])
def extraction(request, monkeypatch):
    """Which extraction path safe_extract takes."""
    if request.param == "data_filter":
        if not hasattr(tarfile, "data_filter"):
            pytest.skip("this Python has no tarfile.data_filter")
    else:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    return request.param


# Each archive tries to write tmp_path/"outside"/evil.txt (or to link to it) from
# dest = tmp_path/"cache"/"dest".
MALICIOUS = {
    # a symbolic link climbs through an earlier, harmless-looking link: lexically
    # "sub/up/.." is "sub", inside; on disk it is dest/.., outside
    "symlink_chain": [_file("sub/a.txt"), _link("sub/up", ".."), _link("esc", "sub/up/.."),
                      _file("esc/outside/evil.txt", b"escaped")],
    # a file written through a chain of three links
    "symlink_chain_file": [_link("l1", "."), _link("l2", "l1/l1"), _link("l3", "l2/.."),
                           _file("l3/outside/evil.txt", b"escaped")],
    # a later link changes what an earlier target means: x -> y/.. is dest until y -> .
    "later_link_redirects": [_link("x", "y/.."), _link("y", "."),
                             _file("x/outside/evil.txt", b"escaped")],
    # a link re-declared over a path that an earlier link's target went through
    "link_redefined": [_file("d/a.txt"), _link("a", "d"), _link("b", "a/.."), _link("a", ".")],
    # a link that replaces a directory an earlier member created
    "link_replaces_directory": [_file("d/a.txt"), _link("d", "..")],
    "symlink_absolute": [_link("abs", "/etc/passwd")],
    "symlink_up": [_link("up", "../../outside/evil.txt")],
    "symlink_loop": [_link("a", "b"), _link("b", "a"), _file("a/evil.txt")],
    "dotdot_name": [_file("ok.txt"), _file("sub/../../outside/evil.txt", b"escaped")],
    "absolute_name": [_file("/tmp/lstm_lib_evil.txt", b"escaped")],
    "backslash_dotdot": [_file("sub\\..\\..\\outside\\evil.txt", b"escaped")],
    "hardlink_up": [_link("hard", "../outside/evil.txt", hard=True)],
    "hardlink_absolute": [_link("hard", "/etc/passwd", hard=True)],
    "hardlink_through_symlink": [_link("up", ".."), _link("hard", "up/outside/evil.txt",
                                                          hard=True)],
    "char_device": [_special("dev/null", tarfile.CHRTYPE)],
    "block_device": [_special("dev/sda", tarfile.BLKTYPE)],
    "fifo": [_special("pipe", tarfile.FIFOTYPE)],
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
def test_malicious_archive_is_refused_before_writing(case, extraction, tmp_path):
    outside = tmp_path / "cache" / "outside"
    outside.mkdir(parents=True)
    (outside / "evil.txt").write_bytes(b"original")
    archive = _tar(tmp_path / f"{case}.tar", MALICIOUS[case])
    dest = tmp_path / "cache" / "dest"
    with pytest.raises(ValueError, match="refusing to extract"):
        data.safe_extract(archive, dest)
    assert (outside / "evil.txt").read_bytes() == b"original"
    assert sorted(outside.iterdir()) == [outside / "evil.txt"]
    assert not dest.exists() or list(dest.iterdir()) == []        # nothing written at all
    assert not Path("/tmp/lstm_lib_evil.txt").exists()


def test_link_already_in_dest_is_followed(extraction, tmp_path):
    """A symbolic link that was in dest before extraction counts as part of the chain."""
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "pre").symlink_to(outside)
    archive = _tar(tmp_path / "a.tar", [_file("pre/evil.txt", b"escaped")])
    with pytest.raises(ValueError, match="refusing to extract 'pre/evil.txt'"):
        data.safe_extract(archive, dest)
    assert list(outside.iterdir()) == []


def test_download_imdb_refuses_a_symlink_chain(extraction, tmp_path):
    archive = _tar(tmp_path / "evil.tar.gz", [_file("aclImdb/train/pos/1_9.txt"),
                                              *MALICIOUS["symlink_chain"]], mode="w:gz")
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="refusing to extract"):
        data.download_imdb(directory=cache, url=archive.as_uri(),
                           sha256=data.sha256_file(archive))
    assert not (cache / "aclImdb").exists() and not (tmp_path / "outside").exists()
    assert [p.name for p in cache.iterdir()] == ["aclImdb_v1.tar.gz"]   # temp dir removed


def test_safe_links_and_chains_inside_still_extract(extraction, tmp_path):
    archive = _tar(tmp_path / "ok.tar", [
        _file("d/a.txt", b"A"), _link("cur", "."), _link("d/b.txt", "a.txt"),
        _link("chain", "cur/d/b.txt"), _link("d/up", ".."), _link("hard", "d/a.txt", hard=True),
        _file("setuid.sh", b"#!/bin/sh\n", mode=0o4755)])
    out = data.safe_extract(archive, tmp_path / "x")
    assert (out / "chain").read_text() == "A" and (out / "d" / "up" / "hard").read_text() == "A"
    assert not os.stat(out / "setuid.sh").st_mode & stat.S_ISUID   # both paths drop set-uid


def _truncated_gzip(tmp_path: Path) -> Path:
    good = _tar(tmp_path / "good.tar.gz", [_file(f"f{k}.txt", os.urandom(20_000))
                                           for k in range(5)], mode="w:gz")
    bad = tmp_path / "truncated.tar.gz"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    return bad


def _truncated_tar(tmp_path: Path) -> Path:
    good = _tar(tmp_path / "good.tar", [_file("big.bin", os.urandom(50_000))])
    bad = tmp_path / "truncated.tar"
    bad.write_bytes(good.read_bytes()[:20_000])          # the header survives, the data not
    return bad


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    (tmp_path / name).write_bytes(content)
    return tmp_path / name


BROKEN = {
    "empty_file": lambda p: _write(p, "empty.tar.gz", b""),
    "random_bytes": lambda p: _write(p, "random.tar", os.urandom(3000)),
    "gzip_of_text": lambda p: _write(p, "text.tar.gz", gzip.compress(b"not a tar " * 100)),
    "truncated_gzip": _truncated_gzip,
    "truncated_tar": _truncated_tar,
    "no_members": lambda p: _tar(p / "nothing.tar", []),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_archive_error_names_the_file(case, extraction, tmp_path):
    archive = BROKEN[case](tmp_path)
    with pytest.raises(ValueError, match=f"archive {archive}"):
        data.safe_extract(archive, tmp_path / "dest")


def test_missing_archive_and_bad_dest(tmp_path):
    with pytest.raises(FileNotFoundError, match="archive .*nope.tar does not exist"):
        data.safe_extract(tmp_path / "nope.tar", tmp_path / "dest")
    archive = _tar(tmp_path / "ok.tar", [_file("a.txt")])
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="dest .*file exists and is not a directory"):
        data.safe_extract(archive, tmp_path / "file")
    with pytest.raises(TypeError, match="archive must be a path"):
        data.safe_extract(42, tmp_path)


def test_download_imdb_with_a_corrupt_archive_names_it(tmp_path):
    bad = _write(tmp_path, "bad.tar.gz", gzip.compress(b"not a tar " * 100))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match=r"aclImdb_v1\.tar\.gz is not a readable tar"):
        data.download_imdb(directory=cache, url=bad.as_uri(), sha256=data.sha256_file(bad))
    assert not (cache / "aclImdb").exists()


SHA = "0" * 64


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(filename="../escape.txt"), ValueError, "filename must be a plain file name"),
    (dict(filename="sub/x.txt"), ValueError, "filename must be a plain file name"),
    (dict(filename=".."), ValueError, "filename must be a plain file name"),
    (dict(filename=""), ValueError, "filename must be a plain file name"),
    (dict(sha256="z" * 64), ValueError, "64-character hex digest"),
    (dict(sha256=None), ValueError, "64-character hex digest"),
    (dict(timeout=0), ValueError, "timeout must be a finite number of seconds > 0"),
    (dict(timeout=float("nan")), ValueError, "timeout must be"),
    (dict(timeout=True), ValueError, "timeout must be"),
    (dict(url=5), TypeError, "url must be a non-empty str"),
    (dict(opener="urlopen"), TypeError, "opener must be callable"),
])
def test_fetch_rejects_bad_arguments_before_any_download(kwargs, error, match, tmp_path):
    def opener(*args, **kw):
        raise AssertionError("fetch must not download with bad arguments")

    args = dict(url="http://example.invalid/x", filename="x.txt", sha256=SHA,
                directory=tmp_path / "d", opener=opener)
    with pytest.raises(error, match=match):
        data.fetch(**{**args, **kwargs})
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "d").exists()


# ----------------------------------------------------------------------------- checkpoints

def _trained(tmp_path: Path, seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    model(torch.randn(5, 3)).pow(2).sum().backward()
    opt.step()
    path = save_checkpoint(tmp_path / "good.pt", model, opt, History(step=[1], train_loss=[0.5]),
                           TrainConfig(steps=1, eval_every=1))
    return model, opt, path


def _fresh(seed: int = 1):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    return model, torch.optim.Adam(model.parameters(), lr=1e-2)


def _snapshot(model, opt):
    return ({k: v.clone() for k, v in model.state_dict().items()},
            {k: {n: t.clone() for n, t in s.items()} for k, s in opt.state_dict()["state"].items()})


def _assert_unchanged(model, opt, before):
    weights, state = before
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, weights[k], rtol=0, atol=0)
    assert opt.state_dict()["state"].keys() == state.keys()


def _edited(path: Path, out: Path, edit) -> Path:
    ckpt = torch.load(path, weights_only=True)
    edit(ckpt)
    torch.save(ckpt, out)
    return out


def _set(key, value):
    return lambda c: c.__setitem__(key, value)


def _model_entry(key, fn):
    return lambda c: c["model"].__setitem__(key, fn(c["model"][key]))


CORRUPT_CHECKPOINTS = {
    # case: (make the file from the good one, expected error, message)
    "empty": (lambda good, bad: bad.write_bytes(b""), ValueError, "is empty"),
    "truncated": (lambda good, bad: bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2]),
                  ValueError, "truncated or corrupt"),
    "first_bytes_only": (lambda good, bad: bad.write_bytes(good.read_bytes()[:10]), ValueError,
                         "truncated or corrupt"),
    "text": (lambda good, bad: bad.write_text("hello " * 50), (ValueError, pickle.UnpicklingError),
             "bad.pt"),
}


@pytest.mark.parametrize("case", sorted(CORRUPT_CHECKPOINTS))
def test_corrupt_checkpoint_names_the_file_and_changes_nothing(case, tmp_path):
    _, _, good = _trained(tmp_path)
    make, error, match = CORRUPT_CHECKPOINTS[case]
    bad = tmp_path / "bad.pt"
    make(good, bad)
    model, opt = _fresh()
    before = _snapshot(model, opt)
    with pytest.raises(error, match=match) as info:
        load_checkpoint(bad, model, opt)
    assert str(bad) in str(info.value)
    _assert_unchanged(model, opt, before)


MISMATCHED = {
    "bad_config": (_set("config", {"steps": 0}), "history or config does not parse"),
    "unknown_config_key": (_set("config", {"stepz": 3}), "history or config does not parse"),
    "history_not_a_dict": (_set("history", [1, 2]), "history or config does not parse"),
    "wrong_shape": (_model_entry("0.weight", lambda w: torch.zeros(5, 3)),
                    r"0\.weight has shape \(5, 3\), the model expects \(4, 3\)"),
    "wrong_dtype": (_model_entry("0.weight", lambda w: w.double()),
                    "0.weight has dtype torch.float64"),
    "nan_weight": (_model_entry("2.bias", lambda b: torch.full_like(b, float("nan"))),
                   "2.bias holds NaN or inf"),
    "missing_key": (lambda c: c["model"].pop("2.bias"), r"missing keys \['2.bias'\]"),
    "unexpected_key": (lambda c: c["model"].__setitem__("extra.weight", torch.zeros(1)),
                       r"unexpected keys \['extra.weight'\]"),
    "not_a_state_dict": (_set("model", [1, 2]), "state_dict of tensors"),
    "no_optimizer_state": (_set("optimizer", None), "holds no optimizer state"),
    "optimizer_groups": (lambda c: c["optimizer"]["param_groups"][0]["params"].pop(),
                         "parameter groups of sizes"),
    "optimizer_state_shape": (
        lambda c: c["optimizer"]["state"][0].__setitem__("exp_avg", torch.zeros(7)),
        r"optimizer state 'exp_avg' of parameter 0 has shape \(7,\)"),
    "wrong_format": (_set("format", "something/2"), "not an lstm_lib checkpoint"),
}


@pytest.mark.parametrize("case", sorted(MISMATCHED))
def test_mismatched_checkpoint_is_refused_before_touching_the_model(case, tmp_path):
    _, _, good = _trained(tmp_path)
    edit, match = MISMATCHED[case]
    bad = _edited(good, tmp_path / "bad.pt", edit)
    model, opt = _fresh()
    before = _snapshot(model, opt)
    with pytest.raises(ValueError, match=match) as info:
        load_checkpoint(bad, model, opt)
    assert str(bad) in str(info.value)
    _assert_unchanged(model, opt, before)


def test_checkpoint_of_another_architecture(tmp_path):
    _, _, good = _trained(tmp_path)
    model = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 2))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match="0.weight has shape"):
        load_checkpoint(good, model)
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_missing_file_and_directory(tmp_path):
    model, _ = _fresh()
    with pytest.raises(FileNotFoundError, match="checkpoint .*nope.pt does not exist"):
        load_checkpoint(tmp_path / "nope.pt", model)
    with pytest.raises(IsADirectoryError, match="is not a file"):
        load_checkpoint(tmp_path, model)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        load_checkpoint(tmp_path / "x.pt", "model")


def test_good_checkpoint_still_loads(tmp_path):
    model, opt, good = _trained(tmp_path)
    model2, opt2 = _fresh()
    ckpt = load_checkpoint(good, model2, opt2)
    for (k, v), v2 in zip(model.state_dict().items(), model2.state_dict().values(), strict=True):
        assert torch.equal(v, v2), k
    assert isinstance(ckpt["config"], TrainConfig) and ckpt["history"].train_loss == [0.5]


def test_save_is_atomic_and_keeps_the_old_file(tmp_path, monkeypatch):
    model, opt, good = _trained(tmp_path)
    old = good.read_bytes()

    def crash(payload, fh, *args, **kwargs):
        fh.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(good, model, opt)
    assert good.read_bytes() == old                      # the earlier checkpoint survives
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.pt"]  # no temporary left


def test_save_rejects_bad_paths_and_models(tmp_path):
    model, _ = _fresh()
    with pytest.raises(IsADirectoryError, match="is a directory"):
        save_checkpoint(tmp_path, model)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        save_checkpoint(tmp_path / "x.pt", {"w": torch.zeros(1)})
    with pytest.raises(TypeError, match="path must be a file path"):
        save_checkpoint(None, model)
    assert list(tmp_path.iterdir()) == []
