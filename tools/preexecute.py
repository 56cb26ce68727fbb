"""Execute the book's chapters in parallel into Jupyter Book's execution cache.

Jupyter Book 1.x executes notebooks one after another while Sphinx reads them. On a machine with
several cores that leaves all but one idle, so ``tools/book.py`` first runs every chapter whose
outputs are not cached yet in a pool of worker processes (one kernel each, one BLAS thread per
kernel) and stores the results in the same jupyter-cache database, read the same way MyST-NB
reads them. Jupyter Book then finds every chapter in the cache. A chapter that fails stops the
build here, with its traceback, before Sphinx starts.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import yaml

# One BLAS/OpenMP thread per kernel: the chapters' models are small, and on a 2-core machine
# extra threads only contend (measured: 46 s with torch's 2 threads, 0.35 s with one, for the
# gradient-norm measurements of the vanishing-gradients chapter). Progress bars executed into a
# notebook are saved as frozen widgets, so they are off in the book.
KERNEL_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
              "LSTM_LIB_PROGRESS": "0"}


def notebook_chapters(root: Path) -> list[Path]:
    """The MyST-markdown notebooks listed in ``_toc.yml``, in reading order."""
    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [toc["root"]] + [ch["file"] for part in toc.get("parts", [])
                             for ch in part["chapters"]]
    paths = [root / f"{name}.md" for name in names]
    return [p for p in paths if p.read_text().startswith("---\njupytext:")]


def read_notebook(path: Path):
    """Read a chapter exactly as MyST-NB does, so that the cache keys match."""
    from myst_nb.core.read import read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    return read_myst_markdown_notebook(path.read_text(), config=MdParserConfig(),
                                       add_source_map=True, path=str(path))


def _worker_init(env: dict[str, str]) -> None:
    os.environ.update(env)


def _execute(path: str, timeout: int):
    from jupyter_cache.executors.utils import single_nb_execution

    notebook = read_notebook(Path(path))
    result = single_nb_execution(notebook, cwd=str(Path(path).parent), timeout=timeout,
                                 allow_errors=False, meta_override=True)
    error = None if result.err is None else result.exc_string
    return path, notebook, result.time, error


def kernel_profile(directory: Path) -> Path:
    """An IPython directory whose kernels draw inline figures as high-DPI ("retina") PNGs.

    The site shows each figure at its usual size from twice the pixels, so text and thin lines
    stay sharp on phone and laptop screens. Readers' own Jupyter keeps its settings: only the
    book build points ``IPYTHONDIR`` here.
    """
    config = directory / "profile_default" / "ipython_kernel_config.py"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('c.InlineBackend.figure_formats = {"retina"}\n')
    return directory


def preexecute(root: Path, cache_path: Path, *, jobs: int, timeout: int,
               env: dict[str, str] | None = None) -> int:
    """Execute every uncached chapter with ``jobs`` workers; returns the number that failed.

    The kernels run with ``KERNEL_ENV`` and then ``env`` added to this process's environment.
    """
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    cache = get_cache(str(cache_path))
    pending = []
    for path in notebook_chapters(root):
        try:
            cache.match_cache_notebook(read_notebook(path))
        except KeyError:
            pending.append(path)
    if not pending:
        return 0
    # largest first: the long chapters start early and the pool drains evenly
    pending.sort(key=lambda p: p.stat().st_size, reverse=True)
    print(f"executing {len(pending)} chapters with {jobs} parallel kernels", flush=True)
    failures = 0
    start = time.perf_counter()
    kernel_env = {**KERNEL_ENV, **(env or {})}
    with ProcessPoolExecutor(jobs, initializer=_worker_init, initargs=(kernel_env,)) as pool:
        futures = [pool.submit(_execute, str(p), timeout) for p in pending]
        for future in as_completed(futures):
            path, notebook, seconds, error = future.result()
            name = Path(path).relative_to(root)
            if error is not None:
                failures += 1
                print(f"FAILED {name} after {seconds:.1f} s:\n{error}", flush=True)
                continue
            print(f"executed {name} in {seconds:.1f} s", flush=True)
            record = cache.add_nb_to_project(path, read_data={"type": "plugin",
                                                              "name": "myst_nb_md"})
            cache.cache_notebook_bundle(CacheBundleIn(notebook, record.uri,
                                                      data={"execution_seconds": seconds}),
                                        check_validity=False, overwrite=True)
    print(f"executed {len(pending) - failures}/{len(pending)} chapters in "
          f"{time.perf_counter() - start:.0f} s", flush=True)
    return failures
