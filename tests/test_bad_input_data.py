"""Hostile input to every public function of lstm_lib.data: each is refused with an error
that names the argument (out-of-range ids, strings where token lists belong, NaN/inf, wrong
shapes, negative or zero sizes, floats and bools where ints belong, truthy strings as flags)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lstm_lib import data
from lstm_lib.data import CharVocab, Vocab

V = Vocab(["hello", "world"])            # <pad> <unk> hello world: ids 0 .. 3
C = CharVocab("abc")                     # unk a b c: ids 0 .. 3
NAN_SERIES = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
GOOD_SERIES = np.arange(20.0)
X3 = np.zeros((4, 5, 1))
Y2 = np.zeros((4, 1))

CASES = {
    # --- Vocab
    "decode_negative_id": (lambda: V.decode([-1]), IndexError, r"ids must be in \[0, 3\]"),
    "decode_too_large_id": (lambda: V.decode([2, 4]), IndexError, "got 4 at position 1"),
    "decode_float_id": (lambda: V.decode([1.5]), TypeError, "ids must hold integer ids"),
    "decode_nan_id": (lambda: V.decode([np.nan]), ValueError, "ids must be finite"),
    "decode_string": (lambda: V.decode("12"), TypeError, "ids must be integer ids"),
    "decode_object_ids": (lambda: V.decode([[1], [1, 2]]), (TypeError, ValueError), "ids"),
    "decode_skip_pad_string": (lambda: V.decode([1], skip_pad="no"), TypeError,
                               "skip_pad must be a bool"),
    "build_from_raw_strings": (lambda: Vocab.build(["hello world"]), TypeError,
                               r"token_lists\[0\] must be a list of tokens"),
    "build_from_one_string": (lambda: Vocab.build("hello world"), TypeError,
                              "token_lists must be an iterable of token lists"),
    "build_non_str_tokens": (lambda: Vocab.build([["a", 3]]), TypeError,
                             r"token_lists\[0\] must hold str tokens"),
    "build_min_freq_zero": (lambda: Vocab.build([["a"]], min_freq=0), ValueError,
                            "min_freq must be >= 1"),
    "build_min_freq_float": (lambda: Vocab.build([["a"]], min_freq=1.5), TypeError,
                             "min_freq must be an int"),
    "build_max_size_bool": (lambda: Vocab.build([["a"]], max_size=True), TypeError,
                            "max_size must be an int"),
    "build_max_size_too_small": (lambda: Vocab.build([["a"]], max_size=1), ValueError,
                                 "max_size must be >= len"),
    "vocab_from_string": (lambda: Vocab("hello"), TypeError, "tokens must be a list of tokens"),
    "vocab_string_specials": (lambda: Vocab(["a"], specials="<pad>"), TypeError,
                              "specials must be a sequence"),
    "encode_string": (lambda: V.encode("hello"), TypeError, "tokens must be a list of tokens"),
    "encode_non_str": (lambda: V.encode(["hello", 3]), TypeError, "tokens must hold str"),
    # --- CharVocab
    "char_decode_negative": (lambda: C.decode([-1]), IndexError, "ids must be in"),
    "char_decode_too_large": (lambda: C.decode([9]), IndexError, "ids must be in"),
    "char_encode_list": (lambda: C.encode(["a", "b"]), TypeError, "text must be a str"),
    "char_vocab_words": (lambda: CharVocab(["ab", "c"]), TypeError, "chars must be a str"),
    "char_vocab_unk": (lambda: CharVocab("abc", unk="??"), TypeError, "unk must be a single"),
    # --- IMDB helpers
    "tokenize_bytes": (lambda: data.tokenize(b"great"), TypeError, "text must be a str"),
    "pad_float_ids": (lambda: data.pad_sequences([[1.5, 2.0]], 4), TypeError,
                      r"sequences\[0\] must hold integer ids"),
    "pad_nested_ids": (lambda: data.pad_sequences([[[1, 2]]], 4), ValueError,
                       r"sequences\[0\] must be 1-D"),
    "pad_string": (lambda: data.pad_sequences("abc", 4), TypeError,
                   "sequences must be an iterable of id sequences"),
    "pad_max_len_float": (lambda: data.pad_sequences([[1]], 2.5), TypeError,
                          "max_len must be an int"),
    "pad_max_len_zero": (lambda: data.pad_sequences([[1]], 0), ValueError, "max_len must be >= 1"),
    "pad_pad_id_float": (lambda: data.pad_sequences([[1]], 3, pad_id=0.5), TypeError,
                         "pad_id must be an int"),
    "imdb_max_len_zero": (lambda: data.imdb_dataset(0), ValueError, "max_len must be >= 1"),
    "imdb_min_freq_zero": (lambda: data.imdb_dataset(10, min_freq=0), ValueError,
                           "min_freq must be >= 1"),
    "imdb_keep": (lambda: data.imdb_dataset(10, keep="middle"), ValueError,
                  "keep must be 'first' or 'last'"),
    "imdb_timeout_negative": (lambda: data.imdb_dataset(10, timeout=-1), ValueError,
                              "timeout must be in"),
    "read_imdb_root_int": (lambda: data.read_imdb(3), TypeError, "root must be a path"),
    "download_imdb_directory_int": (lambda: data.download_imdb(directory=3), TypeError,
                                    "directory must be a path or None"),
    "fetch_directory_list": (lambda: data.fetch("http://x.invalid/a", "a", sha256="0" * 64,
                                                directory=["d"]), TypeError,
                             "directory must be a path or None"),
    # --- synthetic tasks
    "adding_n_zero": (lambda: data.adding_problem(0, 10, seed=0), ValueError, "n must be >= 1"),
    "adding_n_bool": (lambda: data.adding_problem(True, 10, seed=0), TypeError,
                      "n must be an int"),
    "adding_seq_len_float": (lambda: data.adding_problem(2, 10.0, seed=0), TypeError,
                             "seq_len must be an int"),
    "adding_negative_seed": (lambda: data.adding_problem(2, 10, seed=-1), ValueError,
                             "seed must be >= 0"),
    "adding_string_seed": (lambda: data.adding_problem(2, 10, seed="1"), TypeError,
                           "seed must be None, an int"),
    "adding_variant_list": (lambda: data.adding_problem(2, 10, seed=0, variant=["modern"]),
                            ValueError, "variant must be one of"),
    "copy_one_hot_string": (lambda: data.copy_memory(2, 5, seed=0, one_hot="no"), TypeError,
                            "one_hot must be a bool"),
    "copy_delay_zero": (lambda: data.copy_memory(2, 0, seed=0), ValueError,
                        "delay must be >= 1"),
    "temporal_one_hot_string": (lambda: data.temporal_order(2, 30, seed=0, one_hot="no"),
                                TypeError, "one_hot must be a bool"),
    "temporal_short": (lambda: data.temporal_order(2, 5, seed=0), ValueError,
                       "seq_len must be >= 20"),
    "long_gap_negative": (lambda: data.long_gap_language(2, -1, seed=0), ValueError,
                          "gap must be >= 0"),
    "bits_float_seed": (lambda: data.shifted_bits(2, 5, 1, seed=0.5), TypeError,
                        "seed must be None, an int"),
    "reviews_n_float": (lambda: data.synthetic_reviews(2.5, seed=0), TypeError,
                        "n must be an int"),
    "reviews_n_bool": (lambda: data.synthetic_reviews(True, seed=0), TypeError,
                       "n must be an int"),
    "reviews_max_len_float": (lambda: data.synthetic_reviews(2, seed=0, max_len=30.5), TypeError,
                              "max_len must be an int"),
    "agreement_p_nan": (lambda: data.agreement_task(3, p_prefix=float("nan")), ValueError,
                        "p_prefix must be in"),
    "agreement_p_string": (lambda: data.agreement_task(3, p_prefix="0.5"), TypeError,
                           "p_prefix must be a number"),
    "agreement_seed_negative": (lambda: data.agreement_task(3, seed=-5), ValueError,
                                "seed must be >= 0"),
    # --- time series
    "windows_nan": (lambda: data.make_windows(NAN_SERIES, 2), ValueError,
                    "series must be finite: it holds 1 NaN/inf"),
    "windows_inf": (lambda: data.make_windows(np.array([1.0, np.inf, 3.0]), 1), ValueError,
                    "series must be finite"),
    "windows_2d": (lambda: data.make_windows(np.zeros((5, 2)), 2), ValueError,
                   r"series must be 1-D \(T,\)"),
    "windows_strings": (lambda: data.make_windows(["a", "b", "c"], 1), TypeError,
                        "series must be an array of numbers"),
    "windows_lookback_float": (lambda: data.make_windows(GOOD_SERIES, 2.5), TypeError,
                               "lookback must be an int"),
    "windows_horizon_zero": (lambda: data.make_windows(GOOD_SERIES, 2, 0), ValueError,
                             "horizon must be >= 1"),
    "windows_stride_negative": (lambda: data.make_windows(GOOD_SERIES, 2, 1, -1), ValueError,
                                "stride must be >= 1"),
    "split_nan_fraction": (lambda: data.split_series(GOOD_SERIES, (np.nan, 0.5, 0.5)),
                           ValueError, "fractions must be three positive numbers"),
    "split_two_fractions": (lambda: data.split_series(GOOD_SERIES, (0.5, 0.5)), ValueError,
                            "fractions must be three positive numbers"),
    "split_string_fractions": (lambda: data.split_series(GOOD_SERIES, "abc"), ValueError,
                               "fractions must be three positive numbers"),
    "split_nan_values": (lambda: data.split_series(NAN_SERIES), ValueError,
                         "values must be finite"),
    "normalizer_fit_nan": (lambda: data.Normalizer.fit(NAN_SERIES), ValueError,
                           "values must be finite"),
    "normalizer_transform_nan": (lambda: data.Normalizer(0.0, 1.0).transform(NAN_SERIES),
                                 ValueError, "values must be finite"),
    "normalizer_transform_series_inf": (
        lambda: data.Normalizer(0.0, 1.0).transform(pd.Series([1.0, np.inf])), ValueError,
        "values must be finite"),
    "normalizer_inverse_nan": (lambda: data.Normalizer(0.0, 1.0).inverse(NAN_SERIES),
                               ValueError, "values must be finite"),
    "persistence_nan": (lambda: data.persistence_mae(X3 * np.nan, Y2), ValueError,
                        "x must be finite"),
    "persistence_lengths": (lambda: data.persistence_mae(X3, Y2[:3]), ValueError,
                            r"expected x \(N, lookback, 1\)"),
    "persistence_empty": (lambda: data.persistence_mae(X3[:0], Y2[:0]), ValueError,
                          r"expected x \(N, lookback, 1\)"),
    "mean_mae_nan_mean": (lambda: data.mean_mae(Y2, float("nan")), ValueError,
                          "mean must be a finite number"),
    "mean_mae_array_mean": (lambda: data.mean_mae(Y2, np.zeros(3)), ValueError,
                            "mean must be a finite number"),
    "mean_mae_empty": (lambda: data.mean_mae(np.zeros(0), 0.0), ValueError,
                       "y must hold at least one target"),
    "mean_mae_nan_y": (lambda: data.mean_mae([1.0, np.nan], 0.0), ValueError,
                       "y must be finite"),
    "seattle_regular_string": (lambda: data.seattle_temperatures(regular="no"), TypeError,
                               "regular must be a bool"),
    # --- text
    "bptt_float_ids": (lambda: data.bptt_batches([0.5, 1.0, 2.0], 1, 1), TypeError,
                       "ids must hold integer ids"),
    "bptt_negative_ids": (lambda: data.bptt_batches([0, -3, 2], 1, 1), ValueError,
                          "ids must be >= 0"),
    "bptt_batch_size_float": (lambda: data.bptt_batches(np.arange(10), 2.0, 2), TypeError,
                              "batch_size must be an int"),
    "bptt_drop_last_string": (lambda: data.bptt_batches(np.arange(10), 2, 2, drop_last="no"),
                              TypeError, "drop_last must be a bool"),
    "corpus_val_fraction_nan": (lambda: data.python_source_corpus(100, val_fraction=np.nan),
                                ValueError, "val_fraction must be in"),
    "corpus_max_chars_float": (lambda: data.python_source_corpus(100.0), TypeError,
                               "max_chars must be an int"),
    # --- tensors
    "to_tensors_strings": (lambda: data.to_tensors(np.array(["a", "b"])), TypeError,
                           r"arrays\[0\] must be a numeric array"),
    "to_tensors_objects": (lambda: data.to_tensors(np.zeros(2), np.array([1, None])),
                           TypeError, r"arrays\[1\] must be a numeric array"),
    "tensor_dataset_lengths": (lambda: data.tensor_dataset(np.zeros((3, 2)), np.zeros(4)),
                               ValueError, "must share their first dimension"),
    "tensor_dataset_scalar": (lambda: data.tensor_dataset(np.zeros(())), ValueError,
                              "must share their first dimension"),
    "tensor_dataset_empty": (lambda: data.tensor_dataset(), ValueError, "at least one array"),
    # --- downloads
    "cache_file_as_archive": (lambda: data.safe_extract("/nonexistent/a.tar", "/tmp"),
                              FileNotFoundError, "archive /nonexistent/a.tar does not exist"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_refused_by_name(case):
    call, error, match = CASES[case]
    with pytest.raises(error, match=match):
        call()


def test_imdb_dataset_checks_arguments_before_downloading(tmp_path):
    def opener(*args, **kwargs):
        raise AssertionError("no download with bad arguments")

    with pytest.raises(ValueError, match="max_size must be >= 2"):
        data.imdb_dataset(10, max_size=1, directory=tmp_path, opener=opener)
    assert list(tmp_path.iterdir()) == []


def test_good_input_still_works():
    """The checks accept what they should: numpy ints, integral floats, generators, bools."""
    assert V.decode(np.array([2, 3, 0])) == ["hello", "world"]
    assert V.decode(np.array([2.0, 0.0]), skip_pad=np.bool_(False)) == ["hello", "<pad>"]
    assert V.decode([]) == []
    assert Vocab.build(t.split() for t in ["a b", "b"]).itos == ["<pad>", "<unk>", "b", "a"]
    assert C.decode(C.encode("cab")) == "cab"
    ids, lengths = data.pad_sequences([np.array([1, 2, 3]), [], (4,)], 2, pad_id=np.int64(0))
    assert ids.tolist() == [[1, 2], [0, 0], [4, 0]] and lengths.tolist() == [2, 0, 1]
    x, y = data.adding_problem(np.int64(2), 10, seed=np.int64(3))
    assert x.shape == (2, 10, 2)
    assert data.agreement_task(2, p_prefix=1).has_prefix.all()
    assert len(data.bptt_batches(np.arange(11.0), 2, 2)) == 3
