"""Check Binder's environment: a fresh venv from .binder/ executes every chapter.

``python tools/binder_check.py VENV_DIR [--no-cpu-index]`` creates the virtual environment,
installs ``.binder/requirements.txt``, runs ``.binder/postBuild`` in it, and executes every chapter
of ``_toc.yml`` with that environment's kernel. ``--no-cpu-index`` drops PyTorch's CPU wheel index
and the ``+cpu`` tag (for machines that reach only PyPI); the pins are otherwise Binder's own.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.preexecute import KERNEL_ENV, notebook_chapters  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("venv", type=Path)
    parser.add_argument("--no-cpu-index", action="store_true")
    args = parser.parse_args(argv)
    requirements = (ROOT / ".binder" / "requirements.txt").read_text()
    if args.no_cpu_index:
        requirements = "\n".join(line.replace("+cpu", "") for line in requirements.splitlines()
                                 if not line.startswith("--extra-index-url"))
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write(requirements)
    bin_dir = args.venv / "bin"
    subprocess.run([sys.executable, "-m", "venv", str(args.venv)], check=True)
    subprocess.run([bin_dir / "pip", "install", "-q", "-r", fh.name], check=True)
    env = {**os.environ, **KERNEL_ENV, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["bash", ".binder/postBuild"], cwd=ROOT, env=env, check=True)
    failed = []
    for chapter in notebook_chapters(ROOT):
        out = Path(tempfile.gettempdir()) / f"binder-{chapter.stem}.ipynb"
        result = subprocess.run([bin_dir / "jupytext", "--execute", "--to", "ipynb", "-o",
                                 str(out), str(chapter)], cwd=chapter.parent, env=env,
                                capture_output=True, text=True)
        print(f"{'ok    ' if result.returncode == 0 else 'FAILED'} {chapter.name}", flush=True)
        if result.returncode != 0:
            failed.append(chapter.name)
            print(result.stdout[-3000:], result.stderr[-3000:])
    total = len(notebook_chapters(ROOT))
    print(f"{len(failed)} of {total} chapters failed in Binder's environment")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
