"""Data for the book: long-time-lag tasks, shipped real data, text pipelines.

Everything here works offline, and every generator is seeded (``seed=``). Arrays are numpy and
batch-first; :func:`to_tensors` / :func:`tensor_dataset` hand them to torch.

Modules:
    bits        random-bit labelling: delayed echo and future bits (shifted_bits)
    tasks       adding problem, copy memory, temporal order, long-gap language + baselines
    timeseries  Seattle hourly temperatures (vega_datasets, offline), windows, splits,
                normaliser, persistence and mean baselines
    text        character corpus from the Python standard library, truncated-BPTT batches
    agreement   subject-verb agreement with attractor nouns (the gates' language story)
    reviews     synthetic sentiment "reviews" whose label needs memory (offline)
    imdb        IMDB (Maas et al. 2011): download with cache + checksum, safe extraction,
                tokenise, vocabulary, padding (opt-in; needs the network once)
    download    cache directory, verified atomic downloads, safe tar extraction
    vocab       Vocab (words) and CharVocab (characters)
    tensors     numpy -> torch helpers (imports torch lazily)

Bad input (the project's one policy, DESIGN.md): every public function here checks its
arguments before doing any work and names the bad one with the expected and the received
value. Sizes are ints (``TypeError`` for floats and bools, ``ValueError`` below the minimum);
flags are bools (``"no"`` is a ``TypeError``, not True); seeds are ``None``, an int >= 0 or a
``numpy.random.Generator``; ids must be integers in range (``Vocab.decode([-1])`` is an
``IndexError``; integral floats are accepted, 1.5 is not); numeric data must be finite (NaN/inf
is a ``ValueError``); a string where a list of tokens belongs is a ``TypeError``. Archives are
extracted only if no member, links followed, can leave the destination, on every supported
Python; empty, truncated and corrupt files give errors that name the file.
"""

from lstm_lib.data.agreement import (
    AgreementData,
    agreement_task,
    last_noun_baseline,
)
from lstm_lib.data.bits import shifted_bits
from lstm_lib.data.download import ChecksumError, cache_dir, fetch, safe_extract, sha256_file
from lstm_lib.data.imdb import (
    IMDB_SHA256,
    IMDB_URL,
    IMDBData,
    download_imdb,
    imdb_dataset,
    pad_sequences,
    read_imdb,
    tokenize,
)
from lstm_lib.data.reviews import SyntheticReviews, synthetic_reviews
from lstm_lib.data.tasks import (
    ADDING_BASELINE_MSE,
    TEMPORAL_ORDER_SYMBOLS,
    LongGapLanguage,
    adding_baseline_mse,
    adding_problem,
    copy_memory,
    copy_memory_baseline_ce,
    long_gap_baseline_accuracy,
    long_gap_language,
    long_gap_memoryless_accuracy,
    long_gap_named_classes,
    temporal_order,
    temporal_order_baseline_accuracy,
    temporal_order_baseline_ce,
)
from lstm_lib.data.tensors import tensor_dataset, to_tensors
from lstm_lib.data.text import (
    BPTTBatches,
    PythonCorpus,
    bptt_batches,
    python_source_corpus,
    stdlib_source_files,
)
from lstm_lib.data.timeseries import (
    ForecastingData,
    Normalizer,
    WindowSet,
    make_windows,
    mean_mae,
    persistence_mae,
    seattle_forecasting_data,
    seattle_temperatures,
    split_series,
)
from lstm_lib.data.vocab import CharVocab, Vocab

__all__ = [
    # tasks
    "ADDING_BASELINE_MSE", "TEMPORAL_ORDER_SYMBOLS", "LongGapLanguage",
    "adding_baseline_mse", "adding_problem", "copy_memory", "copy_memory_baseline_ce",
    "long_gap_baseline_accuracy", "long_gap_language", "long_gap_memoryless_accuracy",
    "long_gap_named_classes", "temporal_order",
    "temporal_order_baseline_accuracy", "temporal_order_baseline_ce", "shifted_bits",
    # time series
    "ForecastingData", "Normalizer", "WindowSet", "make_windows", "mean_mae",
    "persistence_mae", "seattle_forecasting_data", "seattle_temperatures", "split_series",
    # text
    "BPTTBatches", "CharVocab", "PythonCorpus", "Vocab", "bptt_batches",
    "python_source_corpus", "stdlib_source_files",
    # subject-verb agreement
    "AgreementData", "agreement_task", "last_noun_baseline",
    # sentiment
    "IMDBData", "IMDB_SHA256", "IMDB_URL", "SyntheticReviews", "download_imdb",
    "imdb_dataset", "pad_sequences", "read_imdb", "synthetic_reviews", "tokenize",
    # downloads, torch
    "ChecksumError", "cache_dir", "fetch", "safe_extract", "sha256_file",
    "tensor_dataset", "to_tensors",
]
