"""`adrs data`: fetch real data from pinned public sources (here: local mirrors), verify, find it.

Never the internet: sources are files generated here (served by a loopback HTTP server or read
from a folder), or copies of ../shared/data laid out as a mirror. The recipes that repack or
convert a public file must give the same bytes every time and never execute what they read;
evaluations must find fetched data without --data, with --data still winning.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import adrs
from adrs.datasets import catalog, derive
from adrs.datasets.catalog import CATALOG, DataFile, ProblemData, Source
from adrs.datasets.fetch import DataError
from adrs.datasets.location import data_dir_for, user_data_root

ADRS = [sys.executable, "-m", "adrs.cli"]


def _sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def _targz(members: dict[str, bytes], pax: dict[str, str] | None = None) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime, info.uname = len(content), 0o664, 1_700_000_000, "someone"
            info.pax_headers = dict(pax or {})
            archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _fake_traces(envs=derive.SCORED_ENVS + ("us-west-2a_k80_1",), files=range(0, 300, 7)) -> bytes:
    """A leaderboard-shaped cant_be_late tarball: two overhead folders, junk beside the traces."""
    members = {}
    names = sorted({*(f"{n}.json" for n in files), *derive.SCORED_FILES})
    for overhead in ("0.02", "0.05"):
        for env in envs:
            for name in names:
                trace = {"metadata": {"gap_seconds": 600}, "data": [hash((env, name, k)) % 2 for k in range(20)]}
                path = f"real/ddl=search+task=48+overhead={overhead}/real/{env}/traces/random_start/{name}"
                members[path] = json.dumps(trace).encode()
    members["real/ping_based/parse.py"] = b"raise SystemExit('never run')\n"
    return _targz(members)


def test_repacked_traces_are_the_same_bytes_every_time_and_hold_only_the_scored_files():
    upstream = _fake_traces()
    scored = derive.scored_traces(upstream)
    assert scored == derive.scored_traces(upstream)  # deterministic
    assert scored[4:8] == b"\0\0\0\0" and scored[3] == 0  # gzip: no time, no name
    with tarfile.open(fileobj=io.BytesIO(scored)) as archive:
        members = archive.getmembers()
    files = [m for m in members if m.isfile()]
    assert len(files) == len(derive.SCORED_ENVS) * len(derive.SCORED_FILES) == 180
    assert {m.mtime for m in members} == {derive.MTIME} and {m.uid for m in members} == {0}
    assert {m.uname for m in members} == {""}
    assert [m.name for m in members] == sorted((m.name for m in members), key=lambda n: n.split("/"))
    assert all(m.name.split("/")[0] == "real" and "overhead" not in m.name for m in members)
    pool = derive.trace_pool(upstream)
    with tarfile.open(fileobj=io.BytesIO(pool)) as archive:
        assert sum(1 for m in archive if m.isfile()) == 7 * len(
            {*derive.SCORED_FILES, *(f"{n}.json" for n in range(0, 300, 7))}
        )
    manifest = json.loads(derive.selected_traces(upstream))
    assert manifest["env_order"] == list(derive.SCORED_ENVS)
    with tarfile.open(fileobj=io.BytesIO(scored)) as archive:
        member = archive.extractfile(f"real/{derive.SCORED_ENVS[0]}/traces/random_start/107.json")
        assert member is not None
        first = manifest["selected"][derive.SCORED_ENVS[0]][1]
        assert first == {"file": "107.json", "sha256": _sha(member.read())}


def test_multi_region_repack_drops_macos_metadata():
    upstream = _targz(
        {
            "converted_multi_region_aligned/us-east-1a_v100_1/0.json": b"[1, 0]",
            "converted_multi_region_aligned/us-east-1a_v100_1/._0.json": b"apple double",
            "._converted_multi_region_aligned": b"apple double",
        },
        pax={"SCHILY.xattr.com.apple.quarantine": "0082;x"},
    )
    made = derive.multi_region_traces(upstream)
    assert made == derive.multi_region_traces(upstream)
    with tarfile.open(fileobj=io.BytesIO(made)) as archive:
        members = archive.getmembers()
        assert [m.name for m in members] == [".", "./converted_multi_region_aligned/us-east-1a_v100_1/0.json"]
        assert all(not m.pax_headers for m in members)
        assert archive.extractfile(members[1]).read() == b"[1, 0]"
    assert derive.tar_content_sha256(made) == _sha(gzip.decompress(made))


def test_workloads_are_read_without_running_the_file(tmp_path):
    canary = tmp_path / "ran"
    source = (
        f"import pathlib\npathlib.Path({str(canary)!r}).write_text('executed')\n"
        + "".join(f'WORKLOAD_{k} = \'{{"txn0": "r-{k} w-2", "txn1": "*"}}\'\n' for k in (1, 2, 3))
    ).encode()
    made = json.loads(derive.txn_workloads(source))
    assert not canary.exists()
    assert made["workloads"]["WORKLOAD_2"] == [{"id": "txn0", "ops": "r-2 w-2"}, {"id": "txn1", "ops": "*"}]
    with pytest.raises(derive.DeriveError, match="WORKLOAD_1"):
        derive.txn_workloads(b"WORKLOAD_2 = '{}'\n")


class _Mirror:
    """A loopback HTTP server over a folder, counting the requests it answered."""

    def __init__(self, folder: Path):
        self.requests: list[str] = []
        mirror = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def log_message(self, *args):
                mirror.requests.append(self.path)

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def mirror(tmp_path, monkeypatch) -> Iterator[tuple[_Mirror, Path]]:
    """A made-up problem 'toydata' whose sources (a table and a workloads.py) a loopback server serves."""
    folder = tmp_path / "mirror"
    table = b"src,dst,cost\na,b,0.02\n"
    workloads = "".join(f'WORKLOAD_{k} = \'{{"txn0": "r-{k}"}}\'\n' for k in (1, 2, 3)).encode()
    sources = {}
    for name, content in (("data/table.csv", table), ("src/workloads.py", workloads)):
        source = Source("someone/upstream", "0" * 40, name, _sha(content), len(content))
        (folder / source.relative_url).parent.mkdir(parents=True, exist_ok=True)
        (folder / source.relative_url).write_bytes(content)
        sources[name] = source
    made = derive.txn_workloads(workloads)
    entry = ProblemData(
        "toydata",
        "a table and workloads",
        (
            DataFile("tables/table.csv", sources["data/table.csv"], _sha(table)),
            DataFile("workloads.json", sources["src/workloads.py"], _sha(made), "txn_workloads"),
        ),
    )
    monkeypatch.setitem(CATALOG, "toydata", entry)
    server = _Mirror(folder)
    server.thread.start()
    try:
        yield server, folder
    finally:
        server.server.shutdown()
        server.server.server_close()


def test_fetch_from_a_loopback_mirror_verifies_and_keeps_what_is_there(mirror, tmp_path):
    server, _ = mirror
    root = tmp_path / "data"
    said: list[str] = []
    [fetched] = adrs.fetch_data(["toydata"], root=root, mirror=server.url, say=said.append)
    assert fetched.complete and (root / "toydata" / "tables" / "table.csv").read_bytes().startswith(b"src,dst")
    assert json.loads((root / "toydata" / "workloads.json").read_text())["workloads"]["WORKLOAD_3"][0]["ops"] == "r-3"
    assert len(server.requests) == 2 and any("derived here" in line for line in said)
    adrs.fetch_data(["toydata"], root=root, mirror=server.url)
    assert len(server.requests) == 2  # verified files are kept, nothing read again
    (root / "toydata" / "tables" / "table.csv").write_bytes(b"tampered\n")
    status = adrs.data_status(["toydata"], root=root).problems[0]
    assert not status.complete and status.files[0].state.startswith("unverified: sha256")
    adrs.fetch_data(["toydata"], root=root, mirror=server.url)
    assert adrs.data_status(["toydata"], root=root).problems[0].complete and len(server.requests) == 3
    assert not list(root.rglob(".*partial*"))


def test_a_source_with_other_bytes_is_refused_and_nothing_is_written(mirror, tmp_path):
    server, folder = mirror
    table = next(folder.rglob("table.csv"))
    table.write_bytes(b"src,dst,cost\na,b,9.99\n")  # the mirror serves something else than the pinned file
    with pytest.raises(DataError, match=r"table\.csv: sha256 \w+ is not the pinned"):
        adrs.fetch_data(["toydata"], root=tmp_path / "data", mirror=server.url)
    assert not (tmp_path / "data" / "toydata" / "tables").exists()


def test_a_folder_mirror_works_too_and_an_unknown_problem_is_named(mirror, tmp_path):
    _, folder = mirror
    [fetched] = adrs.fetch_data(["toydata"], root=tmp_path / "data", mirror=str(folder))
    assert fetched.complete
    with pytest.raises(DataError, match="prism: no public real data"):
        adrs.fetch_data(["prism"], root=tmp_path / "data", mirror=str(folder))


def test_the_user_data_folder_is_used_only_when_it_holds_the_problem(tmp_path, monkeypatch):
    monkeypatch.delenv("ADRS_DATA", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert user_data_root() == tmp_path / "xdg" / "adrs" / "data"
    assert adrs.data_root() == user_data_root()
    assert data_dir_for("cloudcast") is None  # nothing fetched: the synthetic workload
    (user_data_root() / "cloudcast").mkdir(parents=True)
    assert data_dir_for("cloudcast") == str(user_data_root())
    assert data_dir_for("prism") is None  # another problem's data is not this one's
    assert data_dir_for("cloudcast", "/elsewhere") == "/elsewhere"  # --data wins
    monkeypatch.setenv("ADRS_DATA", str(tmp_path / "env"))
    assert data_dir_for("cloudcast") == str(tmp_path / "env") and adrs.data_root() == tmp_path / "env"


EVALUATOR = """
from adrs.problemkit import find_data


def evaluate(program_path, *, stage, data_dir=None):
    folder = find_data(data_dir, "datacheck", "marker.txt")
    return {"score": 0.0 if folder is None else float((folder / "marker.txt").read_text())}
"""


def test_an_evaluation_finds_fetched_data_without_data_and_data_wins(tmp_path):
    problem = tmp_path / "datacheck"
    problem.mkdir()
    (problem / "problem.toml").write_text('[problem]\nname = "datacheck"\n')
    (problem / "initial.py").write_text("def f():\n    return 1\n")
    (problem / "evaluator.py").write_text(EVALUATOR)
    env = {"PATH": "/usr/bin:/bin", "XDG_DATA_HOME": str(tmp_path / "xdg"), "HOME": str(tmp_path)}

    def score(*extra: str) -> float:
        done = subprocess.run(
            [*ADRS, "eval", str(problem), str(problem / "initial.py"), "--json", *extra],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)["stages"][0]["score"]

    assert score() == 0.0  # nothing fetched: synthetic
    fetched = tmp_path / "xdg" / "adrs" / "data" / "datacheck"
    fetched.mkdir(parents=True)
    (fetched / "marker.txt").write_text("7")
    assert score() == 7.0  # found without --data
    check = subprocess.run([*ADRS, "check", str(problem)], capture_output=True, text=True, timeout=120, env=env)
    assert f"data: real data from {tmp_path / 'xdg' / 'adrs' / 'data'}" in check.stdout.replace("\n", "")
    explicit = tmp_path / "mine" / "datacheck"
    explicit.mkdir(parents=True)
    (explicit / "marker.txt").write_text("3")
    assert score("--data", str(tmp_path / "mine")) == 3.0  # --data wins


def _shared_mirror(shared: Path, folder: Path, problem: str) -> None:
    """A mirror of a problem's byte-copied sources, made from the shared data folder's files."""
    for spec in catalog.CATALOG[problem].files:
        assert not spec.derived
        target = folder / spec.source.relative_url
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shared / problem / spec.name, target)


def test_cli_fetches_the_real_catalogue_from_a_file_url_mirror(shared_data, tmp_path):
    mirror = tmp_path / "mirror"
    for problem in ("cloudcast", "telemetry_repair"):
        _shared_mirror(shared_data, mirror, problem)
    root = tmp_path / "data"
    done = subprocess.run(
        [*ADRS, "data", "fetch", "cloudcast", "telemetry_repair", "--mirror", mirror.as_uri(), "--data", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    verify = subprocess.run(
        [*ADRS, "data", "verify", "cloudcast", "telemetry_repair", "--data", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stdout
    (root / "cloudcast" / "config" / "intra_aws.json").write_text("{}")
    broken = subprocess.run(
        [*ADRS, "data", "verify", "cloudcast", "--data", str(root)], capture_output=True, text=True, timeout=120
    )
    assert broken.returncode == 2 and "intra_aws.json: unverified" in broken.stdout.replace("\n", "")
    listed = subprocess.run(
        [*ADRS, "data", "list", "--data", str(shared_data)], capture_output=True, text=True, timeout=120
    )
    assert listed.returncode == 0 and "synthetic data only" in listed.stdout and "prism" in listed.stdout


def test_cli_fetch_needs_a_problem_or_all(tmp_path):
    done = subprocess.run(
        [*ADRS, "data", "fetch", "--data", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1 and "--all" in done.stdout
    unknown = subprocess.run(
        [*ADRS, "data", "fetch", "prism", "--data", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert unknown.returncode == 1 and "prism: no public real data" in unknown.stdout
