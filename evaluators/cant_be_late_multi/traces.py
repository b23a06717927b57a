"""Reads the real multi-region spot traces (the leaderboard's tarball, or the same files unpacked).

Owns: finding the data (`data_dir` is either shared/data/cant_be_late_multi or shared/data), and
turning `converted_multi_region_aligned/<zone>_v100_1/<i>.json` into ZoneTrace records: the 0/1
`data` list (1 = spot unavailable), the zone's spot price for that window (the first element of
`prices`, as the original bills) and the window's start time. Members are read straight from the
tarball; nothing is extracted to disk.

Must not: generate synthetic data, or decide which traces a stage uses.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterable
from pathlib import Path

from adrs.problemkit import find_data
from evaluators.cant_be_late_multi.model import ON_DEMAND_PRICE, ZoneTrace

PROBLEM_SUBDIR = "cant_be_late_multi"
TARBALL = "real_traces.tar.gz"
FOLDER = "converted_multi_region_aligned"
DEVICE_SUFFIX = "_v100_1"


def find_real_data(data_dir: str | os.PathLike | None) -> Path | None:
    """The tarball (or the unpacked folder) of real traces, or None for the synthetic workload."""
    try:
        root = find_data(data_dir, PROBLEM_SUBDIR, TARBALL)
        return None if root is None else root / TARBALL
    except FileNotFoundError as first:
        try:
            root = find_data(data_dir, PROBLEM_SUBDIR, FOLDER)
        except FileNotFoundError:
            raise first from None
        return None if root is None else root / FOLDER


def load_real(source: Path, wanted: Iterable[tuple[str, int]]) -> dict[tuple[str, int], ZoneTrace]:
    """ZoneTraces for the wanted (zone, trace index) pairs; a missing one is an error naming it."""
    wanted = set(wanted)
    found: dict[tuple[str, int], ZoneTrace] = {}
    if source.is_dir():
        for zone, index in wanted:
            path = source / f"{zone}{DEVICE_SUFFIX}" / f"{index}.json"
            if path.exists():
                found[(zone, index)] = _parse(zone, json.loads(path.read_text()))
    else:
        with tarfile.open(source) as tar:
            for member in tar:
                key = _member_key(member)
                if key in wanted:
                    handle = tar.extractfile(member)
                    assert handle is not None
                    found[key] = _parse(key[0], json.load(handle))
    missing = sorted(wanted - found.keys())
    if missing:
        zone, index = missing[0]
        raise FileNotFoundError(f"{source} lacks {len(missing)} trace(s), e.g. {zone}{DEVICE_SUFFIX}/{index}.json")
    return found


def _member_key(member: tarfile.TarInfo) -> tuple[str, int] | None:
    if not member.isfile():
        return None
    parts = member.name.split("/")
    if len(parts) < 2 or parts[-1].startswith("._") or not parts[-1].endswith(".json"):
        return None  # macOS metadata entries of the upstream tarball
    stem, folder = parts[-1][: -len(".json")], parts[-2]
    if not stem.isdigit() or not folder.endswith(DEVICE_SUFFIX):
        return None
    return folder[: -len(DEVICE_SUFFIX)], int(stem)


def _parse(zone: str, data: dict) -> ZoneTrace:
    if int(data["metadata"]["gap_seconds"]) != 195:
        raise ValueError(f"{zone}: expected 195 s ticks, found {data['metadata']['gap_seconds']}")
    prices = data.get("prices") or [None]
    spot_price = float(prices[0]) if prices[0] is not None else ON_DEMAND_PRICE / (3.06 / 0.9731)
    start = str(data["metadata"].get("start_time", ""))  # windows of one index start together in every zone
    return ZoneTrace(zone=zone, available=tuple(v == 0 for v in data["data"]), spot_price=spot_price, start=start)
