"""Untrusted text made safe to show on a terminal: control characters are shown, never sent.

Owns: `printable(text)`, which writes every C0 control character but newline and tab, DEL, the C1
controls and the Unicode direction overrides as visible escapes (`\\x1b`, `\\u202e`), and `markup(text)`,
the same for rich markup (brackets escaped too). Every renderer of text that came from a candidate,
an evaluator or an LLM (errors, feedback, code, prompts, replies) passes it through one of these,
so an ANSI sequence in an error cannot clear the screen, retitle the terminal or hide a line. The
stored text is never changed: this is for display only (the HTML report escapes with html.escape).

Must not: import anything heavier than rich.markup.
"""

from __future__ import annotations

from rich.markup import escape

_KEPT = ("\n", "\t")
_CONTROLS = (
    *range(0x00, 0x20),
    0x7F,
    *range(0x80, 0xA0),
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)
_TABLE = {
    code: (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}") for code in _CONTROLS if chr(code) not in _KEPT
}


def printable(text: object) -> str:
    """`text` (made a string) with its control characters written as escapes."""
    return str(text).translate(_TABLE)


def markup(text: object) -> str:
    """`printable(text)` safe to embed in rich markup."""
    return escape(printable(text))
