"""The closing summary of .ci/run: how many tests ran, failed and skipped, and why each skip happened.

    python .ci/skips.py REPORT.xml [REPORT.xml ...]   # pytest --junitxml reports

Groups skipped tests by their reason (the message pytest.skip was given), most frequent first, so
a machine that cannot run a part of the suite (no chromium, no Docker, no real data) says so once.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ElementTree
from collections import Counter, defaultdict


def main(paths: list[str]) -> None:
    reasons: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    ran = failed = 0
    for path in paths:
        try:
            root = ElementTree.parse(path).getroot()
        except (OSError, ElementTree.ParseError):
            continue  # a suite that never started (an earlier one failed)
        for case in root.iter("testcase"):
            ran += 1
            failed += sum(1 for tag in ("failure", "error") if case.find(tag) is not None)
            skipped = case.find("skipped")
            if skipped is not None:
                reason = (skipped.get("message") or "no reason given").removeprefix("Skipped: ").strip()
                reasons[reason] += 1
                examples[reason].append(f"{case.get('classname', '')}.{case.get('name', '')}")
    total = sum(reasons.values())
    print(f"\n== summary: {ran} tests, {failed} failed, {total} skipped ==")
    for reason, count in reasons.most_common():
        print(f"{count:4d} skipped: {reason}")
        print(f"       e.g. {examples[reason][0]}")
    if not total:
        print("nothing skipped")


if __name__ == "__main__":
    main(sys.argv[1:])
