"""The report page's HTML parts: numbers, figures, notes, links to programs, tables.

Owns: numbers as the page shows them (`fmt`: six significant digits, a dash for none), a PNG
embedded as a data: URI (`img`), a note that replaces a figure or a table when it would mean
nothing (`note`), a program's anchor on the page and a link to it (`anchor`, `link`), and tables
and their cells (`table`, `td`). Everything from the archive (program text, descriptions, error
kinds and messages) is untrusted: a note, a link's text and a cell's text are escaped here; a
table's header and a `raw` cell are markup its caller has escaped.

Must not: decide what a section shows, read the archive or draw figures.
"""

from __future__ import annotations

import base64
from html import escape


def fmt(value: float | None, digits: int = 6) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def img(png: bytes | None, alt: str) -> str:
    if png is None:
        return ""
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def anchor(run_index: int, program_id: int) -> str:
    return f"r{run_index}-p{program_id}"


def link(run_index: int, program_id: int | None, text: str | None = None) -> str:
    if program_id is None:
        return "–"
    return f'<a href="#{anchor(run_index, program_id)}">{escape(text or f"#{program_id}")}</a>'


def table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def td(text: str, numeric: bool = False, raw: bool = False) -> str:
    return f"<td{' class=num' if numeric else ''}>{text if raw else escape(text)}</td>"
