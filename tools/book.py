"""Build the book strictly: ``python tools/book.py [--fresh] [--out DIR]`` (``make book`` calls it).

* Warnings are errors (``-W -n --keep-going``) and a cell that raises stops the build
  (``nb_execution_raise_on_error`` in ``_config.yml``); the exit code is Jupyter Book's.
* Executed chapters are cached by Jupyter Book (``execute_notebooks: cache``), keyed on each
  chapter's own text. That key does not see the library, so this script drops the cache whenever
  ``lstm_lib``, ``tools/``, ``requirements.txt`` or ``_config.yml`` changed: an edit to a cell
  re-executes every chapter that uses it.
* Chapters are executed in parallel first (``tools/preexecute.py``, ``--jobs``, default: the
  number of cores) into that same cache; a chapter that fails stops the build there.
* ``--fresh`` deletes the output directory first; ``make test`` builds that way, because an
  incremental rebuild can hide a failure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

if __package__ in (None, ""):  # run as a script: make `tools.preexecute` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT_NAME = "lstm_lib.sha256"


def fingerprint(root: Path = ROOT) -> str:
    """sha256 over every input that the cached chapter outputs depend on besides their text."""
    files = (sorted((root / "lstm_lib").rglob("*.py")) + sorted((root / "tools").glob("*.py"))
             + [root / "requirements.txt", root / "_config.yml"])
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def build_command(out: Path, root: Path = ROOT) -> list[str]:
    """The jupyter-book invocation: html, strict, keep going to report every warning."""
    exe = Path(sys.executable).with_name("jupyter-book")
    return [str(exe), "build", str(root), "--path-output", str(out), "--builder", "html",
            "-W", "-n", "--keep-going"]


def invalidate_stale_cache(out: Path, root: Path = ROOT) -> bool:
    """Delete ``out/_build`` if the library or the build changed since it was made.

    The execution cache must go (its outputs came from the old library), and so must the html
    and doctrees: Sphinx does not notice a change in our extensions in ``tools/``. Returns True
    if anything was deleted.
    """
    build = out / "_build"
    stamp = build / FINGERPRINT_NAME
    if build.exists() and (not stamp.exists() or stamp.read_text().strip() != fingerprint(root)):
        shutil.rmtree(build)
        return True
    return False


def build(out: Path = ROOT, *, fresh: bool = False, root: Path = ROOT,
          jobs: int | None = None) -> int:
    """Build the html book into ``out/_build/html``; returns the exit code (0 = success).

    ``jobs`` chapters execute at once (default: the number of cores; 1 leaves all execution to
    Jupyter Book, one chapter after another).
    """
    from tools.preexecute import KERNEL_ENV, kernel_profile, preexecute

    out = Path(out).resolve()
    if fresh and (out / "_build").exists():
        shutil.rmtree(out / "_build")
    if invalidate_stale_cache(out, root):
        print("lstm_lib, tools/, requirements.txt or _config.yml changed: rebuilding everything")
    jobs = jobs or os.cpu_count() or 1
    profile = {"IPYTHONDIR": str(kernel_profile(out / "_build" / ".ipython"))}
    if jobs > 1:
        config = yaml.safe_load((root / "_config.yml").read_text())
        failed = preexecute(root, out / "_build" / ".jupyter_cache", jobs=jobs,
                            timeout=config["execute"]["timeout"], env=profile)
        if failed:
            print(f"{failed} chapter(s) failed to execute; see the tracebacks above")
            return 1
    env = {**{k: v for k, v in KERNEL_ENV.items() if k != "LSTM_LIB_PROGRESS"}, **os.environ,
           "LSTM_LIB_PROGRESS": "0", **profile}
    code = subprocess.call(build_command(out, root), cwd=root, env=env)
    if code == 0:
        (out / "_build" / FINGERPRINT_NAME).write_text(fingerprint(root) + "\n")
        print(f"\nThe book is in {out / '_build' / 'html'}; open index.html in a browser.")
    return code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fresh", action="store_true", help="delete _build first")
    parser.add_argument("--out", type=Path, default=ROOT,
                        help="directory that receives _build/ (default: the repository)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="chapters executed at once (default: the number of cores)")
    args = parser.parse_args(argv)
    return build(args.out, fresh=args.fresh, jobs=args.jobs)


if __name__ == "__main__":
    sys.exit(main())
