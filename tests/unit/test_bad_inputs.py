"""The bad-input corpus (tests/data/bad_inputs, made by tests/data/make_bad_inputs.py) through ingest.

For every run in the manifest: no exception escapes except a clear BadInput for a wholly unusable
file; every bad row is reported with a reason; the good rows are stored; images land exactly where
expected; and no file outside the allowed roots is ever opened (checked with an audit hook that
sees every open() in the process). The tally is printed (`-s`) and recorded in docs/benchmarks.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from shopmind.catalog.ingest import ingest_catalog
from shopmind.catalog.store import CatalogStore
from shopmind.config import load_settings
from shopmind.errors import BadInput
from tests.unit.open_audit import recorded_opens

DATA = Path(__file__).resolve().parents[1] / "data"
CORPUS = DATA / "bad_inputs"


def _generator():
    spec = importlib.util.spec_from_file_location("make_bad_inputs", DATA / "make_bad_inputs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    """A private copy of the committed corpus plus the things git cannot hold (links, a FIFO)."""
    root = tmp_path_factory.mktemp("corpus") / "bad_inputs"
    shutil.copytree(CORPUS, root, symlinks=True)
    _generator().make_runtime_specials(root)
    return root


def test_corpus_is_big_small_and_current(tmp_path):
    files = [p for p in CORPUS.rglob("*") if p.is_file() and p.name != "manifest.json"]
    assert len(files) >= 90
    assert sum(p.stat().st_size for p in files) < 2 * 1024 * 1024
    # The committed corpus is what the generator writes: the same files and the same runs. (Bytes are
    # not compared: image and gzip encoders may differ between library versions; the manifest's
    # expectations were computed from the committed bytes.)
    fresh = tmp_path / "fresh"
    _generator().build(fresh)
    assert sorted(str(p.relative_to(fresh)) for p in fresh.rglob("*") if p.is_file()) == \
        sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*") if p.is_file()), "stale: rerun tests/data/make_bad_inputs.py"
    committed = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))["runs"]
    regenerated = json.loads((fresh / "manifest.json").read_text(encoding="utf-8"))["runs"]
    assert [r["name"] for r in committed] == [r["name"] for r in regenerated]


def _allowed(path: str, roots: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == r or real.startswith(r + os.sep) for r in roots)


def test_every_corpus_file_ingests_safely(corpus, tmp_path):
    manifest = json.loads((corpus / "manifest.json").read_text(encoding="utf-8"))["runs"]
    outside = corpus.parent / "outside"
    sentinels = [str(outside / "secret.jpg"), "/etc/passwd", "/etc/shadow", "/root/.ssh/id_rsa", "/proc/self/environ",
                 "/dev/zero", os.path.expanduser("~/.bashrc")]
    tally = {"runs": len(manifest), "bad_files_expected": 0, "bad_files_clear": 0, "crashes": 0, "bad_rows_expected": 0,
             "bad_rows_reported": 0, "good_rows_expected": 0, "good_rows_stored": 0, "outside_opens": 0}
    problems: list[str] = []
    # Opens anywhere else (the folder beside the corpus, a home directory, /root, other temp folders)
    # are strays; system folders may be read by the interpreter and libraries (time zones, caches),
    # and the sensitive files in them are checked one by one as sentinels above.
    roots = [os.path.realpath(p) for p in (corpus, tmp_path, sys.prefix, sys.base_prefix, "/usr", "/lib", "/lib64", "/etc",
                                             "/proc", "/sys", "/dev", "/run", "/var/lib")]
    roots += [os.path.realpath(p) for p in sys.path if p]
    with recorded_opens() as opened:
        for i, run in enumerate(manifest):
            store = CatalogStore(load_settings(home=tmp_path / f"home{i}"))
            catalog = corpus / run["catalog"]
            images = corpus / run["images"] if run["images"] else None
            if run["expect"] == "bad_file":
                tally["bad_files_expected"] += 1
                try:
                    ingest_catalog(store, catalog, images=images)
                    problems.append(f"{run['name']}: expected a clear BadInput, got a report")
                except BadInput as exc:
                    if exc.message:
                        tally["bad_files_clear"] += 1
                    if store.count_products():
                        problems.append(f"{run['name']}: rows stored from an unusable file")
                except Exception as exc:  # noqa: BLE001 - the point of the test
                    tally["crashes"] += 1
                    problems.append(f"{run['name']}: crashed with {type(exc).__name__}: {exc}")
                continue
            try:
                report = ingest_catalog(store, catalog, images=images)
            except Exception as exc:  # noqa: BLE001 - the point of the test
                tally["crashes"] += 1
                problems.append(f"{run['name']}: crashed with {type(exc).__name__}: {exc}")
                continue
            reported = {e.item: e.reason for e in report.errors if e.reason.strip()}
            stored = {p.id: p for p in store.iter_products()}
            tally["bad_rows_expected"] += len(run["reported"])
            tally["bad_rows_reported"] += sum(1 for item in run["reported"] if item in reported)
            tally["good_rows_expected"] += len(run["stored"])
            tally["good_rows_stored"] += sum(1 for pid in run["stored"] if pid in stored)
            for item in run["reported"]:
                if item not in reported:
                    problems.append(f"{run['name']}: {item!r} not reported (errors: {list(reported)[:8]})")
            for pid in run["stored"]:
                if pid not in stored:
                    problems.append(f"{run['name']}: {pid!r} not stored ({reported.get(pid, 'no reason')})")
            for pid in run["not_stored"]:
                if pid in stored:
                    problems.append(f"{run['name']}: {pid!r} stored but should be rejected")
            for pid in run["with_image"]:
                if pid in stored and not stored[pid].image_path:
                    problems.append(f"{run['name']}: {pid!r} lost its good image ({reported.get(pid)})")
            for pid in run["without_image"]:
                if pid in stored and stored[pid].image_path:
                    problems.append(f"{run['name']}: {pid!r} got an image it should not have")
            for pid, title in run["titles"].items():
                if pid in stored and stored[pid].title != title:
                    problems.append(f"{run['name']}: {pid!r} title {stored[pid].title!r} != {title!r}")
            if len(stored) + report.failed < len(run["stored"]):
                problems.append(f"{run['name']}: rows vanished")
    assert any(os.path.realpath(p).startswith(os.path.realpath(corpus)) for p in opened), "the open() audit saw nothing"
    sentinel_hits = [p for p in opened if any(os.path.realpath(p) == os.path.realpath(s) for s in sentinels)]
    strays = sorted({p for p in opened if not _allowed(p, roots)})
    tally["outside_opens"] = len(sentinel_hits) + len(strays)
    tally["files"] = len([p for p in CORPUS.rglob("*") if p.is_file() and p.name != "manifest.json"])
    print("\nbad-input corpus tally:", json.dumps(tally))
    assert not sentinel_hits, f"files outside the allowed roots were opened: {sentinel_hits}"
    assert not strays, f"unexpected files opened: {strays[:10]}"
    assert not problems, "\n".join(problems)
    assert tally["crashes"] == 0 and tally["bad_rows_reported"] == tally["bad_rows_expected"]
    assert tally["good_rows_stored"] == tally["good_rows_expected"] and tally["bad_files_clear"] == tally["bad_files_expected"]
