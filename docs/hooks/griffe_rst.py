"""A griffe extension (``mkdocs.yml``: mkdocstrings' ``extensions``): prefdyn's docstrings use
numpy sections with Sphinx inline markup; this turns that markup into the Markdown the site
renders, before the docstrings are parsed.

* ``:math:`x``` becomes ``$x$`` and a ``.. math::`` block becomes a ``$$ ... $$`` display
  (MathJax through ``pymdownx.arithmatex``);
* ``:func:`~a.b.c```, ``:class:`a.b```, ``:meth:`text <target>``` (any role) become code spans
  of the name a reader sees (``c``, ``a.b``, ``text``);
* a paragraph ending in ``::`` (a reStructuredText literal block follows) ends in ``:``; the
  indented block after it is a Markdown code block already.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_MATH_ROLE = re.compile(r":math:`([^`]+)`")
_ROLE = re.compile(r":(?:py:)?[a-z]+:`(~?)([^`<]+?)(?:\s*<([^>]+)>)?`")
_MATH_BLOCK = re.compile(r"^(?P<indent>[ \t]*)\.\. math::[ \t]*(?P<first>.*)$")


def _role(match: re.Match[str]) -> str:
    tilde, text, target = match.groups()
    if target is not None:
        return f"`{text.strip()}`"
    name = text.strip()
    return f"`{name.rsplit('.', 1)[-1] if tilde else name}`"


def _math_blocks(text: str) -> str:
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _MATH_BLOCK.match(lines[i])
        if match is None:
            out.append(lines[i])
            i += 1
            continue
        indent = match["indent"]
        body = [match["first"]] if match["first"].strip() else []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)):
            body.append(lines[i].strip())
            i += 1
        while body and not body[-1]:
            body.pop()
        out += [f"{indent}$$", *(f"{indent}{line}" for line in body if line), f"{indent}$$", ""]
    return "\n".join(out)


def markdown(text: str) -> str:
    """The docstring ``text`` with its Sphinx markup turned into Markdown (module docstring)."""
    text = _math_blocks(text)
    text = _MATH_ROLE.sub(lambda m: f"${m.group(1)}$", text)
    text = _ROLE.sub(_role, text)
    return re.sub(r"(?<=\S)::[ \t]*$", ":", text, flags=re.MULTILINE)


class SphinxMarkupToMarkdown(griffe.Extension):
    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = markdown(obj.docstring.value)
