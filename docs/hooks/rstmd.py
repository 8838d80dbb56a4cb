"""Turn the RST-flavoured docstrings of rlhf-env into Markdown for MkDocs.

The docstrings are written for readers of the source and for ``help()``: Sphinx roles
(``:class:`~rlhf_env.errors.PromptError```), ``::`` literal blocks, doctest examples and
simple ``=====`` tables, inside Google-style sections (``Args:``). Markdown renders most of
that wrongly (``>>>`` becomes nested block quotes, a literal block becomes a paragraph), so
both the MkDocs hook (env pages) and the griffe extension (API reference) pass every
docstring through :func:`to_markdown` first. It changes layout only, never words.

Roles become ``<autoref … optional>`` tags: mkdocs-autorefs links them when the target is
rendered somewhere in the site and leaves plain code (no warning) when it is not.
"""

from __future__ import annotations

import ast
import html
import itertools
import logging
import re
from collections.abc import Callable

log = logging.getLogger("mkdocs.plugins.rlhf_env_docs")
"""Under ``mkdocs.``, so ``mkdocs build --strict`` fails on what this module warns about."""

Resolver = Callable[[str], "str | None"]
"""Maps a role target as written (``~Foo.bar``'s ``Foo.bar``) to a full dotted path, or
``None`` when it cannot be resolved (it is then shown as code, unlinked)."""

ROLE = re.compile(r":(?:py:)?(class|meth|func|attr|mod|data|exc|obj|const):`([^`]+)`")
BORDER = re.compile(r"^(\s*)=+( +=+)+\s*$")
BULLET = re.compile(r"^(\s*)([-*+]|\d+[.)]) \S")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(``.+?``|`[^`]+`)")


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def to_markdown(text: str, resolve: Resolver | None = None) -> str:
    """The Markdown form of one docstring (already dedented, as ``inspect.cleandoc`` gives)."""
    lines = text.expandtabs(4).split("\n")
    out: list[str] = []
    i = 0
    in_list = False
    while i < len(lines):
        line = lines[i]
        if FENCE.match(line):  # an existing fenced block: copy it untouched
            end = _fence_end(lines, i)
            out.extend(lines[i:end])
            i = end
            continue
        if BORDER.match(line):
            table, i = _table(lines, i, resolve)
            out.extend(_spaced(out, table))
            continue
        if line.lstrip().startswith(">>>"):
            block, i = _doctest(lines, i, _context_indent(out))
            out.extend(_spaced(out, block))
            continue
        if line.rstrip().endswith("::") and _literal_follows(lines, i):
            head, block, i = _literal(lines, i)
            if head:
                out.append(_inline(head, resolve))
            out.extend(_spaced(out, block))
            continue
        if BULLET.match(line):
            if not in_list and out and out[-1].strip():
                out.append("")  # Markdown needs a blank line before a list
            in_list = True
        elif not line.strip():
            in_list = False
        out.append(_inline(line, resolve))
        i += 1
    return "\n".join(out)


def _spaced(out: list[str], block: list[str]) -> list[str]:
    """``block`` with blank lines around it (Markdown blocks must not touch a paragraph)."""
    before = [""] if out and out[-1].strip() else []
    return [*before, *block, ""]


def _fence_end(lines: list[str], start: int) -> int:
    marker = lines[start].strip()[:3]
    for j in range(start + 1, len(lines)):
        if lines[j].strip().startswith(marker):
            return j + 1
    return len(lines)


# -- blocks ------------------------------------------------------------------------------


def _context_indent(out: list[str]) -> int:
    """Indentation of the last non-blank line written (0 at the start)."""
    return next((indent_of(line) for line in reversed(out) if line.strip()), 0)


def _doctest(lines: list[str], start: int, context: int) -> tuple[list[str], int]:
    """A doctest example (``>>>`` lines, ``...`` continuations, output) up to a blank line,
    fenced at the indentation of the text around it (RST indents examples as block quotes,
    which Markdown would read as an indented code block)."""
    own = indent_of(lines[start])
    pad = " " * min(own, context)
    end = start
    while end < len(lines) and lines[end].strip():
        end += 1
    body = [line[own:] if not line[:own].strip() else line.lstrip() for line in lines[start:end]]
    return [f"{pad}```pycon", *(pad + line for line in body), f"{pad}```"], end


def _literal_follows(lines: list[str], i: int) -> bool:
    """Whether line ``i`` (ending in ``::``) introduces an indented literal block."""
    j = i + 1
    while j < len(lines) and not lines[j].strip():
        j += 1
    return j > i + 1 and j < len(lines) and indent_of(lines[j]) > indent_of(lines[i])


def _literal(lines: list[str], i: int) -> tuple[str, list[str], int]:
    """Line ``i`` without its ``::`` (``"text::"`` → ``"text:"``), then the indented block
    after it as a fenced code block (Python when it parses as Python, else text)."""
    line = lines[i].rstrip()
    base = indent_of(line)
    head = "" if line.strip() == "::" else line[:-1]
    j = i + 1
    while j < len(lines) and (not lines[j].strip() or indent_of(lines[j]) > base):
        j += 1
    body = lines[i + 1:j]
    while body and not body[-1].strip():
        body.pop()
    while body and not body[0].strip():
        body.pop(0)
    cut = min(indent_of(line) for line in body if line.strip())
    code = [line[cut:] for line in body]
    pad = " " * base
    language = _language("\n".join(code))
    return head, [f"{pad}```{language}", *(pad + c if c else "" for c in code), f"{pad}```"], j


def _language(code: str) -> str:
    if code.lstrip().startswith(">>>"):
        return "pycon"
    try:
        ast.parse(code)
    except SyntaxError:
        return "text"
    return "python"


def _table(lines: list[str], start: int, resolve: Resolver | None) -> tuple[list[str], int]:
    """An RST simple table (``====`` borders) as a Markdown pipe table.

    ``border, rows, border`` has no header; ``border, header, border, rows, border`` has
    one. A row whose first cell is blank continues the row above it.
    """
    border = lines[start]
    spans = [m.span() for m in re.finditer(r"=+", border)]
    first, j = _table_rows(lines, start + 1, spans)
    if j < len(lines) and lines[j].strip():  # a header, then the body
        head = [" ".join(c).strip() for c in zip(*first, strict=True)]
        body, j = _table_rows(lines, j, spans)
    else:
        head, body = [""] * len(spans), first
    pad = " " * indent_of(border)
    head = [_inline(c, resolve) for c in head]
    body = [[_inline(c, resolve) for c in r] for r in body]
    table = [_row(head), "|" + "|".join("---" for _ in spans) + "|", *map(_row, body)]
    return [pad + row for row in table], j


def _table_rows(lines: list[str], j: int, spans: list[tuple[int, int]]
                ) -> tuple[list[list[str]], int]:
    """The rows from line ``j`` to the next border; the index after that border."""
    rows: list[list[str]] = []
    while j < len(lines) and not BORDER.match(lines[j]):
        if lines[j].strip():
            cells = _cells(lines[j], spans)
            if rows and not cells[0]:
                rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
            else:
                rows.append(cells)
        j += 1
    return rows, j + 1


def _cells(line: str, spans: list[tuple[int, int]]) -> list[str]:
    for (_, gap), (nxt, _) in itertools.pairwise(spans):
        if line[gap:nxt].strip():
            log.warning("a row of an RST table crosses a column boundary (align it with the "
                        "'=====' border above it): %r", line.strip())
    starts = [s for s, _ in spans]
    ends = [*starts[1:], len(line) + 1]
    return [line[s:e].strip() for s, e in zip(starts, ends, strict=True)]


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(map(cell, cells)) + " |"


def cell(text: str) -> str:
    """``text`` on one line, safe in a Markdown table cell: ``|`` escaped outside code spans
    (Python-Markdown's tables already ignore pipes inside backticks, and would show an
    escaping backslash there)."""
    parts = CODE_SPAN.split(" ".join(text.split()))
    return "".join(p if CODE_SPAN.fullmatch(p) else p.replace("|", "\\|") for p in parts)


# -- inline ------------------------------------------------------------------------------


def _inline(line: str, resolve: Resolver | None) -> str:
    """Roles → autorefs; a bare ``<`` outside code (``runs/<name>/``) → ``&lt;``."""
    parts = re.split(r"(:(?:py:)?[a-z]+:`[^`]+`|``.+?``|`[^`]+`)", line)
    out = []
    for part in parts:
        role = ROLE.fullmatch(part)
        if role:
            out.append(_role(role.group(1), role.group(2), resolve))
        elif CODE_SPAN.fullmatch(part):
            out.append(part)
        else:
            out.append(re.sub(r"<(?=[A-Za-z_/])", "&lt;", part))
    return "".join(out)


def _role(kind: str, target: str, resolve: Resolver | None) -> str:
    """One Sphinx role as inline code, linked through autorefs when it resolves."""
    explicit = re.fullmatch(r"(.+?)\s*<([^>]+)>", target)
    if explicit:
        title, target = explicit.group(1), explicit.group(2)
    short = target.startswith("~")
    target = target.lstrip("~.")
    if not explicit:
        title = target.rsplit(".", 1)[-1] if short else target
        if kind in ("func", "meth"):
            title += "()"
    full = resolve(target) if resolve else (target if "." in target else None)
    code = f"<code>{html.escape(title)}</code>"
    if not full:
        return code
    return f'<autoref identifier="{html.escape(full)}" optional>{code}</autoref>'
