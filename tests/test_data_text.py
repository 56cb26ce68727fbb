"""lstm_lib.data.text and vocab: the standard-library corpus, vocabularies, BPTT batches."""

from __future__ import annotations

import platform

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lstm_lib import data

pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture(scope="module")
def corpus():
    return data.python_source_corpus(200_000)


def test_corpus_is_deterministic_and_capped(corpus):
    again = data.python_source_corpus(200_000)
    assert again.text == corpus.text and again.sha256 == corpus.sha256
    assert len(corpus.text) == 200_000
    assert corpus.python_version == platform.python_version()
    assert corpus.files == sorted(corpus.files)
    assert corpus.files[0] == "__future__.py"
    assert not any(part in ("test", "tests", "site-packages", "idle_test")
                   for f in corpus.files for part in f.split("/"))
    assert "def " in corpus.text and "import " in corpus.text


def test_corpus_split_and_vocab(corpus):
    v = corpus.vocab
    assert len(corpus.train_ids) + len(corpus.val_ids) == len(corpus.text)
    assert len(corpus.val_ids) == 20_000
    # train round-trips exactly; validation characters unseen in training become unk (0)
    assert v.decode(corpus.train_ids) == corpus.text[:-20_000]
    val_text = corpus.text[-20_000:]
    unseen = np.array([c not in v.stoi for c in val_text])
    np.testing.assert_array_equal(corpus.val_ids == 0, unseen)
    assert corpus.train_ids.dtype == np.int64 and corpus.train_ids.min() >= 1


def test_corpus_from_custom_root(tmp_path):
    (tmp_path / "b.py").write_text("b = 2\n")
    (tmp_path / "a.py").write_bytes(b"a = '\xff'\n")             # not UTF-8
    for skipped in ("test", "site-packages", "pkg/tests", "__pycache__"):
        (tmp_path / skipped).mkdir(parents=True, exist_ok=True)
        (tmp_path / skipped / "skip.py").write_text("SKIPPED\n")
    (tmp_path / "pkg" / "mod.py").write_text("m = 3\n")
    (tmp_path / "notes.txt").write_text("not python\n")
    (tmp_path / "_sysconfigdata__linux.py").write_text("build_time_vars = {'prefix': '/x'}\n")
    c = data.python_source_corpus(1000, root=tmp_path, val_fraction=0.2)
    assert c.files == ["a.py", "b.py", "pkg/mod.py"]
    assert c.text == "a = '\ufffd'\n\n\nb = 2\n\n\nm = 3\n\n\n"
    short = data.python_source_corpus(5, root=tmp_path)
    assert short.text == "a = '" and short.files == ["a.py"]


@pytest.mark.parametrize("kwargs, match", [
    (dict(max_chars=1), "max_chars must be >= 2"),
    (dict(val_fraction=0.0), "val_fraction must be in"),
    (dict(val_fraction=1.0), "val_fraction must be in"),
])
def test_corpus_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        data.python_source_corpus(**{"max_chars": 100, **kwargs})


def test_char_vocab_unknown_handling():
    v = data.CharVocab("hello")
    assert v.itos == ["\ufffd", "e", "h", "l", "o"] and len(v) == 5
    ids = v.encode("hello, world")
    assert ids.dtype == np.int64 and ids[5] == 0 and ids[0] == v.stoi["h"]
    assert v.decode(v.encode("hole")) == "hole"
    assert v.decode(v.encode("hi")) == "h\ufffd"
    assert v.encode("").shape == (0,)


def test_word_vocab_build_and_encode():
    v = data.Vocab.build([["b", "a", "c"], ["a", "b"], ["a", "d"]], min_freq=1, max_size=4)
    assert v.itos == ["<pad>", "<unk>", "a", "b"]              # freq desc, ties alphabetical
    assert (v.pad_id, v.unk_id) == (0, 1)
    np.testing.assert_array_equal(v.encode(["a", "zzz", "b"]), [2, 1, 3])
    assert v.decode([2, 0, 3, 1]) == ["a", "b", "<unk>"]
    assert v.decode([2, 0], skip_pad=False) == ["a", "<pad>"]
    v2 = data.Vocab.build([["x", "x", "y"]], min_freq=2)
    assert v2.itos == ["<pad>", "<unk>", "x"]
    with pytest.raises(KeyError, match="no '<unk>'"):
        data.Vocab(["a"], specials=()).encode(["b"])
    with pytest.raises(ValueError, match="min_freq must be >= 1"):
        data.Vocab.build([], min_freq=0)


def test_bptt_batches_continue_rows():
    ids = np.arange(1, 1002)                                   # 1001 ids -> rows of 250
    batches = data.bptt_batches(ids, batch_size=4, seq_len=64)
    out = list(batches)
    assert len(out) == len(batches) == 4                       # 64 + 64 + 64 + 58
    assert [x.shape for x, _ in out] == [(4, 64)] * 3 + [(4, 58)]
    for (_, y), (x_next, _) in zip(out, out[1:], strict=False):
        np.testing.assert_array_equal(x_next[:, 0], y[:, -1])  # row b continues row b
    for x, y in out:
        assert x.dtype == y.dtype == np.int64
        np.testing.assert_array_equal(y, x + 1)                # the next id
    rows = np.concatenate([x for x, _ in out], axis=1)         # (4, 250)
    np.testing.assert_array_equal(rows, ids[:1000].reshape(4, 250))
    assert len(data.bptt_batches(ids, 4, 64, drop_last=True)) == 3


@given(n=st.integers(2, 300), batch_size=st.integers(1, 8), seq_len=st.integers(1, 40))
def test_bptt_batches_cover_the_stream(n, batch_size, seq_len):
    ids = np.arange(n) * 3
    if n - 1 < batch_size:
        with pytest.raises(ValueError, match="too short for batch_size"):
            data.bptt_batches(ids, batch_size, seq_len)
        return
    out = list(data.bptt_batches(ids, batch_size, seq_len))
    x = np.concatenate([b[0] for b in out], axis=1)
    y = np.concatenate([b[1] for b in out], axis=1)
    row_len = (n - 1) // batch_size
    np.testing.assert_array_equal(x, ids[: row_len * batch_size].reshape(batch_size, row_len))
    np.testing.assert_array_equal(y, ids[1: row_len * batch_size + 1].reshape(batch_size, -1))


def test_bptt_on_corpus(corpus):
    batches = data.bptt_batches(corpus.train_ids, 16, 100)
    x, y = next(iter(batches))
    assert x.shape == y.shape == (16, 100)
    assert corpus.vocab.decode(x[0]) == corpus.text[:100]


def test_bptt_validation():
    with pytest.raises(ValueError, match="ids must be 1-D"):
        data.bptt_batches(np.zeros((3, 3)), 1, 1)
    with pytest.raises(ValueError, match="seq_len must be >= 1"):
        data.bptt_batches(np.arange(10), 2, 0)
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        data.bptt_batches(np.arange(10), 0, 2)


def test_to_tensors_keeps_dtypes():
    torch = pytest.importorskip("torch")
    x, y = data.adding_problem(4, 6, seed=0)
    ids, labels = data.copy_memory(4, 2, seed=0, one_hot=False)
    tx, ty, tids = data.to_tensors(x, y, ids)
    assert tx.dtype == torch.float32 and tids.dtype == torch.int64 and tx.shape == (4, 6, 2)
    ds = data.tensor_dataset(ids, labels)
    assert len(ds) == 4 and ds[0][0].shape == (22,)
