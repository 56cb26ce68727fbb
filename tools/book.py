"""Build the book strictly: ``python tools/book.py [--fresh] [--out DIR]`` (``make book`` calls it).

* Warnings are errors (``-W -n --keep-going``) and a cell that raises stops the build
  (``nb_execution_raise_on_error`` in ``_config.yml``); the exit code is Jupyter Book's.
* Executed chapters are cached by Jupyter Book (``execute_notebooks: cache``), keyed on each
  chapter's own text. That key does not see the library, so this script drops the cache whenever
  ``lstm_lib``, ``tools/``, ``requirements.txt`` or ``_config.yml`` changed: an edit to a cell
  re-executes every chapter that uses it.
* Chapters are executed in parallel first (``tools/preexecute.py``, ``--jobs``, default: the
  number of cores) into that same cache; a chapter that fails stops the build there.
* The Binder, repository and issue buttons point at one URL, :func:`configured_repository`:
  ``$LSTM_BOOK_REPOSITORY`` if set, else the git remote ``origin`` when it is on GitHub, else
  ``repository.url`` of ``_config.yml`` (a placeholder). The build reads a copy of ``_config.yml``
  with that URL, written to ``_build/config/_config.yml`` (``jupyter-book build --config``).
* ``--fresh`` deletes the output directory first; ``make test`` builds that way, because an
  incremental rebuild can hide a failure.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import yaml

if __package__ in (None, ""):  # run as a script: make `tools.preexecute` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
FINGERPRINT_NAME = "lstm_lib.sha256"


def fingerprint(root: Path = ROOT) -> str:
    """sha256 over every input that the cached chapter outputs depend on besides their text."""
    files = (sorted((root / "lstm_lib").rglob("*.py")) + sorted((root / "lstm_lib").rglob("*.cpp"))
             + sorted((root / "tools").glob("*.py"))
             + [root / "requirements.txt", root / "_config.yml"])
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


REPOSITORY_ENV = "LSTM_BOOK_REPOSITORY"
_GITHUB = re.compile(r"^(?:https?://(?:[^@/]+@)?github\.com/|ssh://git@github\.com[:/]|git@github\.com:)"
                     r"(?P<owner>[\w.-]+)/(?P<name>[\w.-]+?)(?:\.git)?/?$")


def github_url(remote: str) -> str | None:
    """``https://github.com/OWNER/NAME`` for a GitHub remote (https, ssh or scp-like), else None.

    Credentials in an https remote are dropped: the URL ends up in every page.
    """
    match = _GITHUB.match(remote.strip())
    return f"https://github.com/{match['owner']}/{match['name']}" if match else None


def repository_url(environ: Mapping[str, str], origin: str | None, default: str) -> str:
    """The repository the book's buttons point at; a pure function of its inputs.

    ``environ[REPOSITORY_ENV]`` wins (any http(s) URL; a GitHub remote is normalised), then the
    git remote ``origin`` if it is on GitHub, then ``default`` (``repository.url`` of
    ``_config.yml``). Raises ValueError if the variable is set to something that is no URL.
    """
    value = environ.get(REPOSITORY_ENV, "").strip()
    if value:
        url = github_url(value)
        if url is None and re.match(r"^https?://[^\s/]+/\S+$", value):
            url = value.rstrip("/").removesuffix(".git")
        if url is None:
            raise ValueError(f"{REPOSITORY_ENV} must be a repository URL such as "
                             f"https://github.com/OWNER/NAME, got {value!r}")
        return url
    return (github_url(origin) if origin else None) or default


def git_origin(root: Path = ROOT) -> str | None:
    """The URL of the git remote ``origin`` of ``root``, or None (no git, no remote)."""
    try:
        result = subprocess.run(["git", "-C", str(root), "remote", "get-url", "origin"],
                                capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def configured_repository(root: Path = ROOT, environ: Mapping[str, str] | None = None) -> str:
    """The repository URL ``make book`` uses for ``root`` (see :func:`repository_url`)."""
    default = yaml.safe_load((root / "_config.yml").read_text())["repository"]["url"]
    return repository_url(os.environ if environ is None else environ, git_origin(root), default)


def write_build_config(out: Path, url: str, root: Path = ROOT) -> Path:
    """``_config.yml`` with ``repository.url`` set to ``url``, as ``out/_build/config/_config.yml``.

    Jupyter Book resolves ``local_extensions`` paths against the configuration file's folder, so
    they are made absolute; every other path in it is relative to the book, which stays ``root``.
    """
    config = yaml.safe_load((root / "_config.yml").read_text())
    config.setdefault("repository", {})["url"] = url
    extensions = config.get("sphinx", {}).get("local_extensions") or {}
    for name, path in extensions.items():
        extensions[name] = str((root / path).resolve())
    path = out / "_build" / "config" / "_config.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by tools/book.py from _config.yml (edit that file instead), with\n"
                    f"# repository.url from ${REPOSITORY_ENV} or the git remote.\n"
                    + yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    return path


def build_command(out: Path, root: Path = ROOT, config: Path | None = None) -> list[str]:
    """The jupyter-book invocation: html, strict, keep going to report every warning."""
    exe = Path(sys.executable).with_name("jupyter-book")
    extra = ["--config", str(config)] if config is not None else []
    return [str(exe), "build", str(root), "--path-output", str(out), *extra, "--builder", "html",
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
    # the compiled LSTM and sLSTM loops, built once here (or loaded from torch's extension
    # cache) so that no chapter's execution time includes the compiler
    subprocess.run([sys.executable, "-c", "from lstm_lib.nn import compiled; compiled.report()"],
                   cwd=root, check=False)
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
    url = configured_repository(root)
    print(f"Binder, repository and issue buttons: {url} (set ${REPOSITORY_ENV} to change it)")
    config = write_build_config(out, url, root)
    code = subprocess.call(build_command(out, root, config), cwd=root, env=env)
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
    try:
        configured_repository()  # a malformed $LSTM_BOOK_REPOSITORY stops here, before executing
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    return build(args.out, fresh=args.fresh, jobs=args.jobs)


if __name__ == "__main__":
    sys.exit(main())
