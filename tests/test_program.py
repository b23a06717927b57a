"""adrs.program: EVOLVE-BLOCK regions, frozen parts and edit checks, normalized hashing, diffs, compile checks."""

from __future__ import annotations

import pytest

from adrs.program import (
    MarkerError,
    Region,
    change_summary,
    check_edit_allowed,
    compiles,
    find_regions,
    frozen_parts,
    normalized_hash,
    split_lines,
    unified_diff,
)

TWO_REGIONS = """\
import math

# EVOLVE-BLOCK-START
def score(x):
    return x * 0.5
# EVOLVE-BLOCK-END

def frozen():  # not evolvable
    return 1

    # EVOLVE-BLOCK-START
THRESHOLD = 3
# EVOLVE-BLOCK-END
"""


def test_regions_are_the_lines_strictly_between_the_markers() -> None:
    regions = find_regions(TWO_REGIONS)
    assert regions == [Region(3, 5), Region(11, 12)]
    lines = split_lines(TWO_REGIONS)
    assert [lines[i] for i in range(regions[0].start, regions[0].end)] == [
        "def score(x):\n",
        "    return x * 0.5\n",
    ]
    assert lines[regions[1].start] == "THRESHOLD = 3\n"


def test_file_without_markers_is_one_region() -> None:
    code = "a = 1\nb = 2\n"
    assert find_regions(code) == [Region(0, 2)]
    assert frozen_parts(code) == ["", ""]


def test_empty_region_is_allowed() -> None:
    code = "x = 1\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n"
    assert find_regions(code) == [Region(2, 2)]


@pytest.mark.parametrize(
    ("code", "line", "words"),
    [
        ("a = 1\nb = 2\n# EVOLVE-BLOCK-END\n", 3, "without a matching"),
        ("a = 1\n# EVOLVE-BLOCK-START\nb = 2\n", 2, "never closed"),
        ("# EVOLVE-BLOCK-START\na = 1\n  # EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n", 3, "nested"),
        ("# EVOLVE-BLOCK-START EVOLVE-BLOCK-END\n", 1, "same line"),
        (
            "# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\nx = 1\n# EVOLVE-BLOCK-END\n",
            4,
            "without a matching",
        ),
    ],
)
def test_broken_markers_raise_naming_the_line(code: str, line: int, words: str) -> None:
    with pytest.raises(MarkerError) as caught:
        find_regions(code)
    assert caught.value.line == line
    assert str(caught.value).startswith(f"line {line}: ")
    assert words in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_line_numbering_agrees_with_python_for_crlf_and_lone_cr() -> None:
    code = "a = 1\r\n# EVOLVE-BLOCK-START\rb = 2\n# EVOLVE-BLOCK-END\r\nc = 3"
    assert find_regions(code) == [Region(2, 3)]
    assert frozen_parts(code) == ["a = 1\r\n# EVOLVE-BLOCK-START\r", "# EVOLVE-BLOCK-END\r\nc = 3"]


def test_frozen_parts_include_markers_and_everything_outside() -> None:
    parts = frozen_parts(TWO_REGIONS)
    assert len(parts) == 3
    assert parts[0] == "import math\n\n# EVOLVE-BLOCK-START\n"
    assert parts[1].startswith("# EVOLVE-BLOCK-END\n\ndef frozen():")
    assert parts[1].endswith("    # EVOLVE-BLOCK-START\n")
    assert parts[2] == "# EVOLVE-BLOCK-END\n"


def test_edits_inside_regions_are_allowed_even_when_line_counts_change() -> None:
    child = TWO_REGIONS.replace("    return x * 0.5\n", "    y = x * 0.7\n    return y + 1\n").replace(
        "THRESHOLD = 3\n", ""
    )
    assert frozen_parts(child) == frozen_parts(TWO_REGIONS)
    assert check_edit_allowed(TWO_REGIONS, child) is None


@pytest.mark.parametrize(
    ("child", "expected"),
    [
        (TWO_REGIONS.replace("return 1", "return 2"), "line 9: text outside"),
        (TWO_REGIONS.replace("import math", "import os"), "line 1: text outside"),
        (
            TWO_REGIONS.replace("THRESHOLD = 3\n# EVOLVE-BLOCK-END\n", "THRESHOLD = 3\n# EVOLVE-BLOCK-END\nx = 1\n"),
            "line 14: text outside",
        ),
        (TWO_REGIONS.replace("    # EVOLVE-BLOCK-START\n", ""), "markers broken"),
        (
            TWO_REGIONS.replace("    # EVOLVE-BLOCK-START\n", "").replace("THRESHOLD = 3\n# EVOLVE-BLOCK-END\n", ""),
            "1 EVOLVE-BLOCK regions, the parent 2",
        ),
        (TWO_REGIONS.replace("# not evolvable", "# not evolvable!"), "line 8: text outside"),
    ],
)
def test_edits_outside_regions_or_of_markers_are_refused(child: str, expected: str) -> None:
    reason = check_edit_allowed(TWO_REGIONS, child)
    assert reason is not None and expected in reason


def test_markers_may_not_be_added_to_or_removed_from_a_whole_file_program() -> None:
    plain = "a = 1\nb = 2\n"
    assert check_edit_allowed(plain, "a = 2\nb = 3\nc = 4\n") is None
    added = "# EVOLVE-BLOCK-START\na = 1\n# EVOLVE-BLOCK-END\nb = 2\n"
    assert "added" in (check_edit_allowed(plain, added) or "")
    assert "removed" in (check_edit_allowed(added, plain) or "")


def test_hash_ignores_comments_blank_lines_and_formatting() -> None:
    a = "def f(x, y):\n    # add them\n    return x+y\n\n\n"
    b = "def f( x,\n       y ):   \n\n    return (x + y)  # sum\n"
    c = "def f(x, y):\n    return x + y\n# trailing comment"
    assert normalized_hash(a) == normalized_hash(b) == normalized_hash(c)


@pytest.mark.parametrize(
    "other",
    [
        "def f(x, y):\n    return x - y\n",
        "def f(x, y):\n    return y + x\n",
        "def f(x, z):\n    return x + z\n",
        "def f(x, y):\n    return x + y + 0\n",
        "def f(x, y):\n    return x + 1.0 * y\n",
    ],
)
def test_hash_differs_for_semantic_changes(other: str) -> None:
    assert normalized_hash(other) != normalized_hash("def f(x, y):\n    return x + y\n")


def test_hash_distinguishes_int_and_float_constants() -> None:
    assert normalized_hash("x = 1\n") != normalized_hash("x = 1.0\n")


def test_unparsable_code_hashes_its_stripped_text() -> None:
    broken = "def f(:\n    return 1\n"
    assert normalized_hash(broken) == normalized_hash("def f(:   \n\n    return 1")
    assert normalized_hash(broken) != normalized_hash("def f(:\n    return 2\n")
    assert len(normalized_hash(broken)) == 64


def test_unified_diff_shows_changed_lines_and_nothing_for_equal_text() -> None:
    old = "a = 1\nb = 2\nc = 3\n"
    new = "a = 1\nb = 5\nc = 3\n"
    diff = unified_diff(old, new)
    assert diff.startswith("--- parent\n+++ child\n")
    assert "-b = 2\n" in diff and "+b = 5\n" in diff
    assert unified_diff(old, old) == ""
    assert unified_diff(old, new, "v1", "v2").startswith("--- v1\n+++ v2\n")


def test_unified_diff_marks_a_missing_final_newline() -> None:
    diff = unified_diff("a = 1\n", "a = 1")
    assert "\\ No newline at end of file" in diff
    assert diff.endswith("\n")


def test_compiles_reports_line_and_message() -> None:
    assert compiles("def f(x):\n    return x\n") is None
    assert compiles("x = 1\ndef f(:\n    pass\n") is not None
    assert compiles("x = 1\ndef f(:\n    pass\n").startswith("line 2: ")  # type: ignore[union-attr]
    # a compiler check that the parser alone does not make
    assert compiles("x = 1\nreturn x\n") == "line 2: 'return' outside function"
    assert (compiles("if True:\n        a = 1\n    b = 2\n") or "").startswith("line 3: ")
    assert (compiles("x = 1\ny = '\0'\n") or "").startswith("line 2: ")


def test_change_summary_names_the_first_changed_line_and_counts_the_rest() -> None:
    old = "a = 1\nb = 2\nc = 3\nd = 4\n"
    assert change_summary(old, old) == ""
    assert change_summary(old, "a = 1\nb = 5\nc = 3\nd = 4\n") == "line 2: `b = 2` -> `b = 5`"
    assert change_summary(old, "a = 1\nb = 5\nc = 3\nd = 6\n") == "line 2: `b = 2` -> `b = 5` (+1 more changed lines)"
    assert change_summary(old, "a = 1\nc = 3\nd = 4\n") == "line 2: `b = 2` -> nothing"
    long = change_summary("x = 0\n", "x = " + "9" * 200 + "\n", width=20)
    assert long == "line 1: `x = 0` -> `x = 9999999999999999…`"  # one line, whatever the edit's size
