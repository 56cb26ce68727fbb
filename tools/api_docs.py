"""Sphinx extension for the library reference (``chapters/api/``): docstrings as pages, strictly.

The reference is written by ``sphinx.ext.autodoc`` + ``sphinx.ext.napoleon`` from ``lstm_lib``'s
docstrings. Those are written to be read as plain text first (``help()``, an editor), so these
things are done here to keep the strict build (``-W -n``) green without dumbing them down:

1. **Plain-text idioms made safe reStructuredText** (``autodoc-process-docstring``, after
   napoleon): a norm ``|x|`` is not a substitution, ``**kwargs`` in an argument list is not bold,
   ``torch's clip_grad_norm_`` is not a hyperlink, and a bullet list gets the blank line before it
   that reStructuredText needs; a plain-text table under ``Heading:`` becomes a literal block.
   Inline literals, roles and literal blocks are left alone.
2. **Equations typeset** (:func:`equations_as_math`): a literal block (``Equations::``) or a
   paragraph whose every line is an equation in the docstrings' plain-text notation,
   ``(L1)  i_t = σ(W_i x_t + U_i h_{t-1} + b_i)      input gate``, becomes a ``.. math::``
   ``align`` block: σ, ⊙, ∂, Π, superscripts and accents as TeX, ``b_in`` as ``b_{in}``, the
   label ``(L1)`` as ``\\tag{L1}``, a trailing comment as text in its own column. A block with a
   line that is not an equation (code, prose) stays a literal block, as written.
3. **Strict**: a docstring that is still not valid reStructuredText after that (checked with
   docutils) is a warning naming the object, so the strict build (``-W``) fails until the
   docstring is fixed; nothing is shown verbatim behind the author's back.
4. **Constants listed in a module's ``__all__``** are documented with their value even without a
   ``#:`` comment (autodoc documents only commented ones), so ``:data:`NAMES``` links.
5. **References through the public module** (``missing-reference``): the reference documents each
   name where the reader imports it (``lstm_lib.reference.LSTMCell``), while type hints and
   docstrings name the defining module (``lstm_lib.reference.lstm.LSTMCell``). A missing
   ``lstm_lib`` reference is retried with inner modules dropped and linked to the first documented
   name; a name documented nowhere still fails the build.
"""

from __future__ import annotations

import inspect
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager

from docutils import nodes
from docutils.core import publish_doctree
from docutils.parsers.rst import directives, roles
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.ext.autodoc import DataDocumenter, ModuleDocumenter
from sphinx.util import logging
from sphinx.util.nodes import make_refnode

try:
    from tools.docstring_math import equations_as_math
except ImportError:  # loaded by Sphinx as the top-level module api_docs, from tools/
    from docstring_math import equations_as_math

logger = logging.getLogger(__name__)

# inline literals, roles with their text, interpreted text and hyperlink references: left alone
_PROTECTED = re.compile(r"(``.+?``|:[\w:.+-]+:`[^`]*`|`[^`]*`_{0,2})")
_BULLET = re.compile(r"^(\s*)[*+-] \S")


def _fix_text(text: str) -> str:
    """Escape plain-text idioms in a piece of text that holds no inline markup."""
    text = text.replace("|", r"\|")
    # *args / **kwargs / *name that no later '*' closes: not emphasis
    def star(match: re.Match) -> str:
        stars, rest = match.group(0), text[match.end():]
        closing = r"\S\*\*" if stars == "**" else r"\S\*(?!\*)"
        argument = re.match(r"\w+[:,)]", rest)  # "**kwargs:", "*args," in an argument list
        return stars.replace("*", r"\*") if argument or not re.search(closing, rest) else stars
    text = re.sub(r"(?<![\w*\\])\*{1,2}(?=[A-Za-z_])", star, text)
    # a word ending in "_" (torch's clip_grad_norm_) is not a hyperlink reference
    return re.sub(r"(?<=[A-Za-z0-9])_(?=$|[\s.,;:)!?'\]])", r"\_", text)


def _fix_line(line: str) -> str:
    stripped = line.lstrip()
    if stripped.startswith(("+-", "+=", ">>>", "..")) or re.match(r"\|(\s|$)", stripped):
        return line  # tables, line blocks ("| text"; not a norm "|a - n|"), doctests, directives
    parts = _PROTECTED.split(line)
    return "".join(part if k % 2 else _fix_text(part) for k, part in enumerate(parts))


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _tables_as_literal(lines: list[str]) -> list[str]:
    """``Heading:`` over an indented block with deeper continuation lines (a plain-text table)
    becomes a literal block, ``Heading::``, shown as written instead of failing to parse."""
    result: list[str] = []
    i = 0
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        if (stripped.endswith(":") and not stripped.endswith("::")
                and not stripped.startswith((":", "..")) and not _BULLET.match(line)
                and i + 1 < len(lines) and lines[i + 1].strip()
                and not _BULLET.match(lines[i + 1])
                and _indent(lines[i + 1]) > _indent(line)):
            first, j = _indent(lines[i + 1]), i + 1
            while j < len(lines) and lines[j].strip() and _indent(lines[j]) > _indent(line):
                j += 1
            block = lines[i + 1:j]
            if any(_indent(b) > first and not _BULLET.match(b) for b in block):
                result += [line + ":", "", *block]
                i = j
                continue
        result.append(line)
        i += 1
    return result


def make_safe(lines: list[str]) -> list[str]:
    """The docstring ``lines`` with the plain-text idioms escaped and blank lines around lists."""
    lines = _tables_as_literal(lines)
    out: list[str] = []
    literal_from: int | None = None  # indentation of the line that opened a literal block
    list_indent: int | None = None   # indentation of the current bullet list's markers
    for line in lines:
        if not line.strip():
            out.append(line)
            continue
        indent = _indent(line)
        if literal_from is not None:
            if indent > literal_from:
                out.append(line)
                continue
            literal_from = None
            if out[-1].strip():
                out.append("")  # a literal block ends with a blank line
        bullet = _BULLET.match(line)
        previous = out[-1] if out else ""
        if list_indent is not None and indent <= list_indent and not (
                bullet and indent == list_indent):
            list_indent = None
            if previous.strip():
                out.append("")  # a list ends with a blank line
                previous = ""
        if bullet and previous.strip() and not (
                _BULLET.match(previous) and _indent(previous) == indent) and list_indent is None:
            out.append("")  # a list starts after a blank line
        if bullet and list_indent is None:
            list_indent = indent
        out.append(_fix_line(line))
        if line.rstrip().endswith("::"):
            literal_from = indent
    return out


@contextmanager
def _no_roles_or_directives() -> Iterator[None]:
    """Inside Sphinx, docutils looks roles and directives up in Sphinx's registry, whose entries
    need a build environment; for a syntax check every role and directive is simply unknown."""
    saved = directives.directive, roles.role
    directives.directive = lambda *args, **kwargs: (None, [])
    roles.role = lambda *args, **kwargs: (None, [])
    try:
        yield
    finally:
        directives.directive, roles.role = saved


def rst_problems(text: str) -> list[str]:
    """docutils' warnings and errors for ``text``, minus those about roles and directives."""
    stream = io.StringIO()
    with _no_roles_or_directives():
        publish_doctree(text, settings_overrides={
            "report_level": 2, "halt_level": 5, "warning_stream": stream,
            "file_insertion_enabled": False, "raw_enabled": False})
    messages = re.split(r"\n(?=<string>:)", stream.getvalue().strip())
    return [m for m in messages if m and not re.search(
        r"Unknown interpreted text role|No role entry|Unknown directive type|No directive entry|"
        r'Trying ".*" as canonical', m)]


def process_docstring(name: str, lines: list[str]) -> tuple[list[str], list[str]]:
    """The docstring ``lines`` of ``name`` as the reference shows them: equations as math,
    plain-text idioms escaped; and docutils' problems with the result (empty when valid)."""
    safe = make_safe(equations_as_math(lines))
    return safe, rst_problems("\n".join(safe))


def _process(app: Sphinx, what: str, name: str, obj, options, lines: list[str]) -> None:
    if not name.startswith("lstm_lib"):
        return
    safe, problems = process_docstring(name, lines)
    for problem in problems:  # a warning: the strict build (-W) fails until the text is fixed
        logger.warning("api_docs: the docstring of %s is not valid reStructuredText: %s",
                       name, problem.replace("<string>:", "line "), type="api_docs")
    lines[:] = safe


class PublicDataDocumenter(DataDocumenter):
    """A constant named in its module's ``__all__``: documented, with or without a comment."""

    objtype = "publicdata"
    directivetype = "data"
    priority = DataDocumenter.priority + 1

    @classmethod
    def can_document_member(cls, member, membername: str, isattr: bool, parent) -> bool:
        if not isinstance(parent, ModuleDocumenter) or isattr:
            return False  # a commented constant is DataDocumenter's
        if inspect.isroutine(member) or inspect.isclass(member) or inspect.ismodule(member):
            return False
        return membername in (getattr(parent.object, "__all__", None) or ())

    def get_doc(self) -> list[list[str]]:
        comment = self.get_module_comment(self.objpath[-1])
        return [comment] if comment else []  # not the docstring of the value's type


def public_candidates(target: str) -> Iterator[str]:
    """Shorter spellings of ``target``, the most specific first.

    ``lstm_lib.reference._cell.Cell`` yields ``lstm_lib.reference.Cell``, then ``lstm_lib.Cell``;
    ``lstm_lib.nn.layers.LSTM.forward`` yields ``lstm_lib.nn.LSTM.forward``, ...
    """
    parts = target.split(".")
    for tail_start in range(len(parts) - 1, 0, -1):
        tail = parts[tail_start:]
        for head_len in range(tail_start - 1, 0, -1):
            yield ".".join(parts[:head_len] + tail)


def _resolve(app: Sphinx, env: BuildEnvironment, node: nodes.Element,
             contnode: nodes.Element) -> nodes.Element | None:
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target.startswith("lstm_lib."):
        module = node.get("py:module")
        if not (module and module.startswith("lstm_lib")):
            return None
        target = f"{module}.{target}"
    domain = env.get_domain("py")
    if node.get("reftype") == "mod":  # a submodule: the page of the package that exports it
        parts = target.split(".")
        for k in range(len(parts) - 1, 0, -1):
            module = domain.modules.get(".".join(parts[:k]))
            if module is not None:
                return make_refnode(app.builder, node["refdoc"], module.docname,
                                    module.node_id, contnode, target)
        return None
    objects = domain.objects
    for candidate in [target, *public_candidates(target)]:
        entry = objects.get(candidate)
        if entry is not None:
            return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id,
                                contnode, candidate)
    return None


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.autodoc")
    app.add_autodocumenter(PublicDataDocumenter)
    app.connect("autodoc-process-docstring", _process, priority=600)  # after napoleon (500)
    app.connect("missing-reference", _resolve)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
