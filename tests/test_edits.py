"""Reading and applying model replies: SEARCH/REPLACE blocks, full rewrites, and every refusal kind."""

from __future__ import annotations

from adrs import edits
from adrs.edits import apply_reply
from adrs.edits_parse import parse_reply

PARENT = '''"""Header docstring: frozen."""

LIMIT = 80  # frozen constant

# EVOLVE-BLOCK-START
def policy(items):
    total = 0
    for item in items:
        if item > 3:
            total += item
    return total
# EVOLVE-BLOCK-END


def helper():
    return policy([1, 2, 5])
'''


def block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def test_exact_search_replace_changes_only_the_matched_lines():
    reply = "Idea: lower the threshold.\n" + block("        if item > 3:", "        if item > 2:")
    result = apply_reply(PARENT, reply)
    assert result.ok, result.message
    assert result.code == PARENT.replace("item > 3", "item > 2")
    assert result.matches == ("exact",)
    assert result.parsed.summary == "Idea: lower the threshold."


def test_fences_trailing_spaces_and_indentation_drift_are_tolerated():
    # the model fenced its block, dropped the indentation and added trailing spaces
    reply = "```diff\n" + block("if item > 3:   \n    total += item", "if item >= 3:\n    total += 2 * item") + "```\n"
    result = apply_reply(PARENT, reply)
    assert result.ok, result.message
    assert "        if item >= 3:\n            total += 2 * item\n" in result.code
    assert result.matches == ("indentation",)


def test_exact_match_is_preferred_over_a_whitespace_tolerant_one():
    parent = "# EVOLVE-BLOCK-START\nx = 1  \nx = 1\n# EVOLVE-BLOCK-END\n"
    result = apply_reply(parent, block("x = 1", "x = 2"))
    assert result.code == "# EVOLVE-BLOCK-START\nx = 1  \nx = 2\n# EVOLVE-BLOCK-END\n"


def test_several_blocks_apply_in_order_and_all_or_none():
    good = block("    total = 0", "    total = 1")
    bad = block("    this line is not there", "    pass")
    chained = apply_reply(PARENT, good + block("    total = 1", "    total = 7"))  # block 2 sees block 1's result
    assert chained.ok and "    total = 7\n" in chained.code
    result = apply_reply(PARENT, good + bad)
    assert result.code is None
    assert result.kind == edits.SEARCH_NOT_FOUND
    assert "block 2" in result.message


def test_search_not_found_names_the_closest_line():
    result = apply_reply(PARENT, block("        if item > 4:", "        if item > 1:"))
    assert result.kind == edits.SEARCH_NOT_FOUND
    assert "line 9" in result.message and "if item > 3:" in result.message


def test_an_edit_of_frozen_code_is_refused_with_a_reason():
    result = apply_reply(PARENT, block("LIMIT = 80  # frozen constant", "LIMIT = 99"))
    assert result.code is None
    assert result.kind == edits.MARKER_VIOLATION
    assert "outside the EVOLVE-BLOCK" in result.message


def test_an_edit_that_removes_a_marker_is_refused():
    result = apply_reply(PARENT, block("    return total\n# EVOLVE-BLOCK-END", "    return total"))
    assert result.kind == edits.MARKER_VIOLATION


def test_when_the_search_text_also_occurs_in_frozen_code_the_evolvable_copy_is_edited():
    parent = "y = 0\n# EVOLVE-BLOCK-START\ny = 0\n# EVOLVE-BLOCK-END\n"
    result = apply_reply(parent, block("y = 0", "y = 5"))
    assert result.code == "y = 0\n# EVOLVE-BLOCK-START\ny = 5\n# EVOLVE-BLOCK-END\n"


def test_malformed_blocks_and_empty_replies_are_no_edit():
    unclosed = "<<<<<<< SEARCH\n    total = 0\n=======\n    total = 1\n"
    assert apply_reply(PARENT, unclosed).kind == edits.NO_EDIT
    assert "not closed" in apply_reply(PARENT, unclosed).message
    assert apply_reply(PARENT, "I would lower the threshold.").kind == edits.NO_EDIT
    assert apply_reply(PARENT, block("", "x = 1")).kind == edits.NO_EDIT
    truncated = "Here it is:\n```python\ndef policy(items):\n    return 0\n"
    assert "cut off" in apply_reply(PARENT, truncated).message


def test_a_syntax_error_is_reported_with_its_line():
    result = apply_reply(PARENT, block("        if item > 3:", "        if item > 3"))
    assert result.kind == edits.SYNTAX
    assert "line 9" in result.message and "if item > 3" in result.message


def test_an_edit_that_changes_nothing_is_a_duplicate():
    result = apply_reply(PARENT, block("    total = 0", "    total = 0  # same"))
    assert result.kind == edits.DUPLICATE


def test_full_rewrite_keeps_the_frozen_text_byte_for_byte():
    rewrite = PARENT.replace("item > 3", "item > 1").replace(
        '"""Header docstring: frozen."""', '"""Header docstring: frozen."""   '
    )
    result = apply_reply(PARENT, f"Rewrote it.\n```python\n{rewrite}```\n")
    assert result.ok, result.message
    assert result.code == PARENT.replace("item > 3", "item > 1")
    assert result.matches == ("rewrite",)


def test_full_rewrite_of_only_the_block_body_is_spliced_between_the_markers():
    body = "def policy(items):\n    return sum(items)\n"
    result = apply_reply(PARENT, f"```python\n{body}```")
    assert result.ok, result.message
    assert result.code.startswith(PARENT.split("# EVOLVE-BLOCK-START")[0] + "# EVOLVE-BLOCK-START\n" + body)
    assert result.code.endswith("# EVOLVE-BLOCK-END\n\n\ndef helper():\n    return policy([1, 2, 5])\n")


def test_full_rewrite_that_edits_frozen_code_is_refused():
    rewrite = PARENT.replace("LIMIT = 80", "LIMIT = 81")
    result = apply_reply(PARENT, f"```python\n{rewrite}```")
    assert result.kind == edits.MARKER_VIOLATION
    assert "frozen" in result.message


def test_the_first_fenced_block_that_looks_like_the_program_is_the_rewrite():
    reply = "Run it with:\n```bash\npython x.py\n```\nCode:\n```python\ndef policy(items):\n    return 1\n```\n"
    parsed = parse_reply(reply)
    assert parsed.rewrite == "def policy(items):\n    return 1\n"


def test_crlf_parents_keep_their_line_endings():
    parent = PARENT.replace("\n", "\r\n")
    result = apply_reply(parent, block("        if item > 3:", "        if item > 2:\n            pass"))
    assert result.ok, result.message
    assert "if item > 2:\r\n            pass\r\n" in result.code
    assert "\n" not in result.code.replace("\r\n", "")


def test_a_search_text_that_is_part_of_a_line_is_replaced_where_it_occurs():
    result = apply_reply(PARENT, block("item > 3", "item >= 4"))
    assert result.ok, result.message
    assert result.code == PARENT.replace("item > 3", "item >= 4")
    assert result.matches == ("substring",)


def test_a_reasoning_models_draft_inside_think_tags_is_ignored():
    draft = block("        if item > 3:", "        if item > 9:")
    final = block("        if item > 3:", "        if item > 2:")
    result = apply_reply(PARENT, f"<think>maybe this:\n{draft}</think>\nIdea: lower it.\n{final}")
    assert result.ok and "item > 2" in result.code and "item > 9" not in result.code
    assert result.parsed.summary == "Idea: lower it."
