"""Which built-in problems have real data, where each file comes from, and its pinned sha256.

Owns: the records `Source` (a public file: repository, commit, path, sha256, size), `DataFile` (a
file of a problem's data folder: the source it comes from, the recipe that makes it, its sha256)
and `ProblemData`, and `CATALOG`, the built-in problems' real data. Sources are files of two public
GitHub repositories at pinned commits (UCB-ADRS/ADRS-Leaderboard, the ADRS leaderboard, and
lynnliu030/ADRS, a fork of UCB-ADRS/ADRS with OpenEvolve's examples), fetched as
`https://raw.githubusercontent.com/<repo>/<commit>/<path>` or from a mirror laid out the same way.
A file made by a recipe (derive.py) is pinned to what the recipe makes; `accepted` lists the
sha256 of an equivalent copy made elsewhere (the team's shared data folder), and a tarball also
verifies by the sha256 of its uncompressed content, which no gzip implementation changes.

Licences (no LICENSE file in either repository at these commits): see docs/data.md. The data is
fetched by the user, never shipped with adrs.

Must not: download, read or write files.
"""

from __future__ import annotations

from dataclasses import dataclass

LEADERBOARD = ("UCB-ADRS/ADRS-Leaderboard", "f856497ded0c34c97323730f2012a2767b1caa92")
ADRS_FORK = ("lynnliu030/ADRS", "2d7047e9f6718441708503afe4769f4f27e4c544")
RAW_GITHUB = "https://raw.githubusercontent.com"


@dataclass(frozen=True)
class Source:
    """A public file at a pinned commit."""

    repo: str
    commit: str
    path: str
    sha256: str
    size: int

    @property
    def relative_url(self) -> str:
        """`<repo>/<commit>/<path>`: appended to raw.githubusercontent.com, or to a mirror."""
        return f"{self.repo}/{self.commit}/{self.path}"


@dataclass(frozen=True)
class DataFile:
    """One file of a problem's data folder."""

    name: str  # its path inside the problem's folder (e.g. profiles/cost.csv)
    source: Source
    sha256: str  # of the file as `adrs data fetch` writes it
    recipe: str = "copy"  # copy: the source as is; else the name of a recipe in derive.py
    accepted: tuple[str, ...] = ()  # sha256 of equivalent copies made elsewhere
    content_sha256: str = ""  # a .tar.gz: sha256 of its uncompressed tar
    optional: bool = False  # the problem runs on real data without it

    @property
    def derived(self) -> bool:
        return self.recipe != "copy"


@dataclass(frozen=True)
class ProblemData:
    problem: str  # the problem's name, and its folder's name under the data root
    about: str  # one line: what the data is
    files: tuple[DataFile, ...]


def _leaderboard(path: str, sha256: str, size: int) -> Source:
    return Source(*LEADERBOARD, path, sha256, size)


def _fork(path: str, sha256: str, size: int) -> Source:
    return Source(*ADRS_FORK, f"openevolve/examples/ADRS/{path}", sha256, size)


_CBL_TARBALL = _leaderboard(
    "problems/cant_be_late/resources/real_traces.tar.gz",
    "26813d4c6dbe0b60e3d0ff7dc264427a665736c6199aa48a8f0c8aba0437d503",
    3_631_800,
)
_CLOUDCAST_CONFIGS = (
    ("intra_aws.json", "986e7d1f1b7d7186398ac13c1c4fe499a48a164d84a4a7ca8ff17cde3198be42", 444),
    ("intra_azure.json", "ac1d872c8f90b2496bf750b1c8a2b8500b2c74b3b1d2675dc9cc25413541a49f", 464),
    ("intra_gcp.json", "a4f3293f3e973b5c682f270dca8c008a485cecd9bc440d41e4364c196211cfae", 489),
    ("inter_agz.json", "e6f7de15894c79bca94907d0776c17414785e7395e0d369743022146bbc42df4", 477),
    ("inter_gaz2.json", "b40631902a840d17c8089ff93356e7b2542ca1c34e32d11c227eb8176e9bd0f9", 501),
)


def _copy(name: str, source: Source) -> DataFile:
    return DataFile(name, source, source.sha256)


CATALOG: dict[str, ProblemData] = {
    entry.problem: entry
    for entry in (
        ProblemData(
            "cant_be_late",
            "AWS spot-availability traces (Can't Be Late, NSDI'24), as the leaderboard scores them",
            (
                DataFile(
                    "real_traces_scored.tar.gz",
                    _CBL_TARBALL,
                    "0e5bcd3d3ec4c52ff6d32eac7e659a1a44677c6d0c610c6955900f86d4b5599b",
                    "scored_traces",
                    content_sha256="b80a48ae0f7d0c7de2a1474da47e4438a224efe56e689f30b538a54559ad0da2",
                ),
                DataFile(
                    "real_traces_pool.tar.gz",
                    _CBL_TARBALL,
                    "39bb2f9d2a3312027d75c50a670c04e0d8eb85abf45c1544a02eaba877bc268a",
                    "trace_pool",
                    content_sha256="83b376153b46eab8645a13805b3967c1ac46492c588678a11ac147318dbdf61f",
                    optional=True,
                ),
                DataFile(
                    "selected_traces.json",
                    _CBL_TARBALL,
                    "8c28a6f24d07961824b000487a6feeb2e974f4b97ee8c533475e7e08c01f6bcc",
                    "selected_traces",
                    optional=True,
                ),
            ),
        ),
        ProblemData(
            "cant_be_late_multi",
            "multi-region spot traces (9 zones x 100), as the leaderboard scores them",
            (
                DataFile(
                    "real_traces.tar.gz",
                    _leaderboard(
                        "problems/cant_be_late_multi/resources/real_traces.tar.gz",
                        "f82ec52ddc704339768aa9d08f8ab6e41ba0ca9de576ce063b140da4eef4b5be",
                        140_870,
                    ),
                    "33fac0e5cb94edf69ed794e250e6c5441b22ec3ab2639150ae678a43c1ac929a",
                    "multi_region_traces",
                    accepted=("510535e40b83e8cd740db481970d941f4120ae069a1c129fe88691418cea783f",),
                    content_sha256="5fa8f62a13c2ca438e74cf7543053556b99099f0cbfd9bbea65aefcfc7161f0f",
                ),
            ),
        ),
        ProblemData(
            "cloudcast",
            "Skyplane inter-cloud throughput and cost profiles (2022) and five transfer configs",
            (
                _copy(
                    "profiles/cost.csv",
                    _fork(
                        "cloudcast/profiles/cost.csv",
                        "b0f97b744b8f0ba464f1098975a25232f168ff8a2c12bfc09efb1c35e4453eac",
                        204_128,
                    ),
                ),
                _copy(
                    "profiles/throughput.csv",
                    _fork(
                        "cloudcast/profiles/throughput.csv",
                        "e45ee4f0b4101bee184966aedf8efb1e83add7cb3737e172f8729eac00b19e27",
                        3_006_324,
                    ),
                ),
                *(
                    _copy(f"config/{name}", _fork(f"cloudcast/examples/config/{name}", sha256, size))
                    for name, sha256, size in _CLOUDCAST_CONFIGS
                ),
            ),
        ),
        ProblemData(
            "llm_sql",
            "BeerAdvocate reviews table (beer.csv); the other four tables are not public",
            (
                _copy(
                    "beer.csv",
                    _fork(
                        "llm_sql/datasets/beer.csv",
                        "4682ba58e198962b26725c3d7a67f7ac53118c183c771d3ad3d8db21c80581c3",
                        2_527_772,
                    ),
                ),
            ),
        ),
        ProblemData(
            "telemetry_repair",
            "network telemetry with faults, its topology and paths (Abilene, 2004)",
            (
                _copy(
                    "evaluation_data.csv",
                    _fork(
                        "telemetry_repair/ref_data/evaluation_data.csv",
                        "4fa7656d67d1d67d2149d6e7828b65f2a7b50a0f425daf2c2b99c0e047adc2b5",
                        787_281,
                    ),
                ),
                _copy(
                    "topology.json",
                    _fork(
                        "telemetry_repair/ref_data/topology.json",
                        "3eeb5f36c67a0db19cf472e153e34d08babc76b3f4ec63681be3aace81f3f8e2",
                        3_443,
                    ),
                ),
                _copy(
                    "paths.json",
                    _fork(
                        "telemetry_repair/ref_data/paths.json",
                        "a5316fe3cf03c024fe2d3e6e447adc7679bf9e9ec4b655d9e65179cae76f4f52",
                        28_267,
                    ),
                ),
            ),
        ),
        ProblemData(
            "txn_scheduling",
            "the leaderboard's three transaction workloads (100 transactions each)",
            (
                DataFile(
                    "workloads.json",
                    _leaderboard(
                        "problems/txn_scheduling/resources/workloads.py",
                        "948b67d47508b4f91ca5d35648a9d1b82dfd5ff9deaac3101c3f8808e712d2e5",
                        16_485,
                    ),
                    "dac6a68112a3408d4a92b667ad747fd67e2842d3893ff25587466b61f6cd9389",
                    "txn_workloads",
                    accepted=("40c2a1b7d07f398ac3c46a22f3feeb6ed44da9333cc7023ac11f9e7e36eec1a4",),
                ),
            ),
        ),
    )
}
