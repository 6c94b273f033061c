"""The core: settings sources, the Shopmind app object, the image space and the operations layer."""

from __future__ import annotations

import numpy as np
import pytest
import yaml


# ------------------------------------------------------------------------------------------ settings
def test_settings_sources_in_priority_order(tmp_path, monkeypatch):
    from shopmind.config import Settings, load_settings

    home = tmp_path / "h"
    home.mkdir()
    (home / "config.yaml").write_text(yaml.safe_dump({"seed": 5, "batch_size": 3, "home": "/elsewhere"}))
    monkeypatch.setenv("SHOPMIND_HOME", str(home))
    monkeypatch.delenv("SHOPMIND_CONFIG", raising=False)
    monkeypatch.setenv("SHOPMIND_BATCH_SIZE", "7")
    s = load_settings()
    assert s.home == home.resolve()  # the file cannot move the home it lives in
    assert (s.seed, s.batch_size) == (5, 7)  # file < environment
    assert load_settings(batch_size=9).batch_size == 9  # environment < explicit
    monkeypatch.setenv("SHOPMIND_BATCH_SIZE", "")  # empty = unset
    assert Settings().batch_size == 3
    other = tmp_path / "other.yaml"
    other.write_text("seed: 11\n")
    monkeypatch.setenv("SHOPMIND_CONFIG", str(other))
    assert Settings().seed == 11
    (home / "config.yaml").write_text("- not a mapping\n")
    monkeypatch.delenv("SHOPMIND_CONFIG")
    with pytest.raises(ValueError, match="expected a mapping"):
        Settings()


def test_no_module_reads_shopmind_env_itself():
    """Only config.py may look at SHOPMIND_* variables: everything else asks Settings."""
    import re
    from pathlib import Path

    import shopmind

    root = Path(shopmind.__file__).parent
    pattern = re.compile(r"(environ\.get|getenv|environ\[)\(?\s*[\"']SHOPMIND_")
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py")
                 if p.name != "config.py" and pattern.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


# ---------------------------------------------------------------------------------------- app object
def test_app_object_lifecycle(home):
    from shopmind.app import Shopmind
    from shopmind.catalog.store import is_open, open_store
    from shopmind.errors import NotReady

    with Shopmind.open(home) as sm:
        assert not is_open(sm.settings)  # opening touches no disk
        assert sm.store is open_store(sm.settings)  # older callers share the same store
        assert sm.search is sm.search  # one engine per app
        assert sm.search.space is sm.image_space
        assert sm.settings.home == home.resolve()
    assert sm.closed and not is_open(sm.settings)
    with pytest.raises(NotReady):
        sm.store
    # An app that found the store already open leaves it open for its other users.
    shared = open_store(Shopmind.open(home).settings)
    with Shopmind.open(home) as sm2:
        assert sm2.store is shared
    assert is_open(sm2.settings)
    assert Shopmind.open(home, batch_size=5).settings.batch_size == 5


# --------------------------------------------------------------------------------------- image space
def test_image_space_raw_then_centred(home):
    from shopmind.understand.image_space import ImageSpace

    space = ImageSpace(_settings())
    feats = {"bridge": _unit(np.random.default_rng(0).normal(size=(3, 8)))}
    state = space.current()
    assert (state.kind, state.version) == ("raw", "bridge")
    assert np.allclose(state.images(feats), feats["bridge"])
    path = home / "index" / "bridge_centre.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, image_mean=np.full(8, 0.1, np.float32), query_mean=np.full(8, -0.1, np.float32))
    state = space.current()
    assert state.kind == "centred" and state.version.startswith("bridge:")
    got = state.images(feats)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(got, feats["bridge"])
    q = feats["bridge"][0]
    assert state.queries(q).shape == q.shape and state.queries(feats["bridge"]).shape == feats["bridge"].shape
    from shopmind.search.indexer import image_space_version

    assert image_space_version(_store()) == state.version  # the indexer asks the same object


# ----------------------------------------------------------------------------------- operations layer
def _cli_commands() -> set[str]:
    from typer.main import get_command

    from shopmind.cli import app

    def walk(cmd, prefix=""):
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                yield from walk(sub, f"{prefix}{name} ")
        else:
            yield prefix.strip()

    return set(walk(get_command(app)))


def test_every_operation_has_a_cli_command_and_an_api_route(home):
    from shopmind import ops
    from shopmind.api.app import create_app

    schema = create_app().openapi()
    routes = {f"{method.upper()} {path}" for path, item in schema["paths"].items() for method in item}
    commands = _cli_commands()
    required = {"ingest", "tag", "ocr", "fit", "index", "search", "similar", "recommend", "check", "write",
                "poster", "video", "tts", "redact", "triage", "ask", "experiment"}
    assert required <= set(ops.OPERATIONS)
    missing_cli = {n: op.cli for n, op in ops.OPERATIONS.items() if op.cli not in commands}
    missing_api = {n: op.api for n, op in ops.OPERATIONS.items() if op.api not in routes}
    assert missing_cli == {} and missing_api == {}
    for name in ops.OPERATIONS:  # the same names in Python
        assert callable(getattr(ops, name))


def test_api_keeps_one_search_engine_and_video_is_a_job(home):
    from fastapi.testclient import TestClient

    from shopmind.api.app import create_app

    app = create_app()
    with TestClient(app) as client:
        first = client.post("/search", json={"query": "红色连衣裙"})
        assert first.status_code == 409 and first.json()["error"]["code"] == "not_ready"  # nothing indexed yet
        engine = app.state.shopmind.search
        client.post("/search", json={"query": "dress"})
        assert app.state.shopmind.search is engine  # not rebuilt per request
        job = client.post("/jobs/video", json={"product_id": "NOPE", "fmt": "square"})
        assert job.status_code == 202 and job.json()["kind"] == "video"
        job_id = job.json()["id"]
        import time

        deadline = time.time() + 20
        while time.time() < deadline:
            state = client.get(f"/jobs/{job_id}").json()
            if state["status"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.2)
        assert state["status"] == "failed" and "NOPE" in (state["error"] or "")
        missing = client.get(f"/jobs/{job_id}/file")
        assert missing.status_code == 404
        bad = client.post("/jobs/video", json={"product_id": "X", "fmt": "cinema"})
        assert bad.status_code == 422
    assert app.state.shopmind.closed


def test_python_api_runs_operations_on_the_app(home):
    from shopmind.app import Shopmind
    from shopmind.errors import NotFound, NotReady

    with Shopmind.open(home) as sm:
        report = sm.ops.check("全网第一的面霜")
        assert report.verdict == "violation"
        with pytest.raises(NotReady):
            sm.ops.search("dress")
        with pytest.raises(NotFound):
            sm.ops.product("NOPE")
        with pytest.raises(AttributeError, match="no operation"):
            sm.ops.no_such_thing


# ------------------------------------------------------------------------------------------- helpers
def _settings():
    from shopmind.config import get_settings

    return get_settings()


def _store():
    from shopmind.catalog.store import open_store

    return open_store(_settings())


def _unit(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# -------------------------------------------------------------------------------- extension points
def test_rule_with_unknown_category_fails_at_load():
    from shopmind.compliance.lexicon import LANGUAGES, build_ruleset, load_ruleset
    from shopmind.errors import InvalidExtension

    rule = {"id": "x.made_up", "category": "made_up_category", "severity": "violation", "legal_basis": "-",
            "terms": ["最好"], "why_zh": "-", "why_en": "-"}
    with pytest.raises(InvalidExtension, match="made_up_category"):
        build_ruleset({"language": "zh", "rules": [rule]})
    with pytest.raises(InvalidExtension, match="severity"):
        build_ruleset({"language": "zh", "rules": [{**rule, "category": "other", "severity": "fatal"}]})
    for language in LANGUAGES:  # every packaged rule file passes the same check
        assert load_ruleset(language).rules


def test_one_call_declares_a_content_type():
    from pydantic import BaseModel, ValidationError

    from shopmind.errors import InvalidExtension
    from shopmind.generate import WriteRequest, register_content_type
    from shopmind.generate.facts import ProductFacts
    from shopmind.generate.prompts import build_messages
    from shopmind.generate.schemas import EXTRA_TEMPLATES, MAX_TOKENS, SCHEMAS

    class Tagline(BaseModel):
        tagline: str

    template = '{% include "_facts.j2" %}\n\n任务：写一句不超过 12 个字的标语。\n输出格式：{"tagline": "..."}'
    try:
        register_content_type("tagline", Tagline, max_tokens=48, template=template)
        req = WriteRequest(content_type="tagline", attributes="类型#上衣*颜色#白色")
        assert req.content_type == "tagline" and MAX_TOKENS["tagline"] == 48
        facts = ProductFacts(source="attributes", title="白色上衣", attributes=[("颜色", "白色")])
        messages = build_messages("tagline", facts)
        assert "标语" in messages[-1]["content"] and "白色" in messages[-1]["content"]
        with pytest.raises(InvalidExtension, match="already registered"):
            register_content_type("tagline", Tagline, max_tokens=48, template=template)
        with pytest.raises(InvalidExtension, match="does not parse"):
            register_content_type("broken", Tagline, max_tokens=48, template="{% if %}")
        with pytest.raises(InvalidExtension, match="name"):
            register_content_type("Bad Name", Tagline, max_tokens=48, template=template)
        with pytest.raises(ValidationError, match="unknown content type"):
            WriteRequest(content_type="haiku", attributes="类型#上衣")
    finally:
        SCHEMAS.pop("tagline", None)
        MAX_TOKENS.pop("tagline", None)
        EXTRA_TEMPLATES.pop("tagline.j2", None)


# ------------------------------------------------------------------ interfaces call operations only
# The capability functions behind the operations an interface exposes: an interface that imports one
# of these assembles the workflow itself instead of calling `shopmind.ops.<name>`.
_OP_CAPABILITIES = {
    "shopmind.compliance": {"check", "rewrite"},
    "shopmind.generate": {"write", "build_facts"},
    "shopmind.generate.loop": {"write", "build_facts"},
    "shopmind.media.tts": {"guard_lines", "synthesize_script"},
    "shopmind.media.redact": {"redact_file", "redact_bytes"},
    "shopmind.media.poster": {"make_poster"},
    "shopmind.media.video": {"render_video"},
    "shopmind.media.copy": {"publishable_copy"},
    "shopmind.service.intake": {"triage_and_store"},
    "shopmind.service.qa": {"ask", "ask_events"},
}


def _interface_files():
    from pathlib import Path

    import shopmind

    root = Path(shopmind.__file__).parent
    return [*sorted((root / "cli").glob("*.py")), *sorted((root / "api").glob("*.py")), root / "web" / "views.py"]


def test_interfaces_import_no_capability_behind_an_operation():
    import ast

    offenders = []
    for path in _interface_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module in _OP_CAPABILITIES:
                bad = {a.name for a in node.names} & _OP_CAPABILITIES[node.module]
                offenders += [f"{path.parent.name}/{path.name}:{node.lineno} {node.module}.{n}" for n in sorted(bad)]
            elif isinstance(node, ast.Import):
                offenders += [f"{path.parent.name}/{path.name}:{node.lineno} import {a.name}" for a in node.names
                              if a.name in _OP_CAPABILITIES and a.name != "shopmind.compliance"]
    assert offenders == []


def test_interfaces_call_the_operations_by_name():
    """Each interface that exposes one of these operations reaches it through `ops.<name>`."""
    from pathlib import Path

    import shopmind

    root = Path(shopmind.__file__).parent
    expected = {"cli/compliance.py": ["check", "rewrite"], "api/compliance.py": ["check", "rewrite"],
                "cli/generate.py": ["write"], "api/generate.py": ["write"], "cli/media.py": ["redact", "poster", "video", "tts"],
                "api/media.py": ["redact", "poster", "tts"], "cli/service.py": ["triage"], "api/service.py": ["triage"],
                "cli/qa.py": ["ask"], "api/qa.py": ["ask"], "cli/ab.py": ["experiment"], "api/ab.py": ["experiment"]}
    import re

    missing = {f: [n for n in names if not re.search(rf"\bops\.{n}\b", (root / f).read_text(encoding="utf-8"))]
               for f, names in expected.items()}
    assert {f: m for f, m in missing.items() if m} == {}


# ------------------------------------------------------------- two apps, two homes, one process
def _two_homes(tmp_path):
    """App A holds a red dress as P1, app B a blue one under the same id (and B also holds P2)."""
    from shopmind.app import Shopmind
    from shopmind.domain import Product

    apps = []
    for name, colour, extra in (("a", "红色", False), ("b", "蓝色", True)):
        sm = Shopmind.open(tmp_path / name)
        rows = [(Product(id="P1", title=f"{name.upper()} {colour}连衣裙", description=f"{colour}的连衣裙",
                         category="dress", attributes={"颜色": colour}, price=199.0), f"h{name}", "test")]
        if extra:
            rows.append((Product(id="P2", title="B 衬衫", attributes={"颜色": "白色"}), "h2", "test"))
        sm.store.upsert_products(rows)
        apps.append(sm)
    return apps


def test_two_apps_on_two_homes_read_their_own_store(home, tmp_path):
    """Every path item 2 of issue 12 moved onto the app: facts, feedback input, live products, triage
    colour, product-with-image. The process's default home (`home`) holds nothing, so a path that
    still opened the configured store would find no product at all."""
    import io

    from PIL import Image

    from shopmind import ops
    from shopmind.errors import NotFound, NotReady
    from shopmind.feedback import RatingIn, open_feedback
    from shopmind.live.inputs import products_from_store
    from shopmind.ops.core import product_consistency, product_with_image, write_request

    a, b = _two_homes(tmp_path)
    try:
        assert write_request(a, "title", product_id="P1").product_id == "P1"
        write_request(b, "title", product_id="P2")
        with pytest.raises(NotFound):
            write_request(a, "title", product_id="P2")  # only B has it

        # copy that says red: consistent with A's row, contradicted by B's
        said_red = "这条红色连衣裙很好看"
        assert product_consistency(a, said_red, "P1")["fact_findings"] == []
        assert product_consistency(b, said_red, "P1")["fact_findings"] != []

        for sm, colour in ((a, "红色"), (b, "蓝色")):
            fb = open_feedback(sm.settings, catalog=sm.store)
            try:
                got = fb.add_rating(RatingIn(product_id="P1", instruction="写标题", output="好看", rating=5))
            finally:
                fb.conn.close()
            assert colour in got.input and ({"红色", "蓝色"} - {colour}).pop() not in got.input

        items, _, errors = products_from_store(["P1", "P2"], a.store)
        assert [p.title for p in items] == ["A 红色连衣裙"] and [e.item for e in errors] == ["P2"]
        items, _, errors = products_from_store(["P1", "P2"], b.store)
        assert [p.title for p in items] == ["B 蓝色连衣裙", "B 衬衫"] and errors == []

        # a customer photo that is plainly blue: a mismatch against A's red dress, a match against B's
        buf = io.BytesIO()
        Image.new("RGB", (64, 64), (20, 40, 200)).save(buf, "PNG")
        kinds = {}
        for name, sm in (("a", a), ("b", b)):
            result, ticket = ops.triage(sm, "收到的衣服颜色不对", image_bytes=buf.getvalue(), product="P1",
                                        run_ocr=False, store_ticket=False)
            assert ticket is None
            kinds[name] = {e.kind for e in result.evidence if e.source == "catalog"}
        assert "colour_mismatch" in kinds["a"] and "colour_match" in kinds["b"]

        with pytest.raises(NotReady):  # B has P2 but no stored image
            product_with_image(b, "P2")
        with pytest.raises(NotFound):
            product_with_image(a, "P2")
    finally:
        a.close()
        b.close()


def test_capabilities_do_not_open_the_configured_store_themselves():
    """The functions issue 12 moved onto the app take the store; none calls open_store(get_settings())."""
    import inspect

    from shopmind.generate import facts
    from shopmind.live import inputs, stream

    for fn in (facts.from_product, inputs.products_from_store, stream._product_image):
        assert "open_store(get_settings())" not in inspect.getsource(fn), fn.__qualname__
    with pytest.raises(TypeError, match="store"):
        facts.from_product("P1")


# ------------------------------------------------------------------- per-home state on the app
def test_per_home_state_lives_on_the_app_not_in_modules(home, tmp_path):
    """Fitted state and the bridge centre are cached by each app's image space, the Q&A variant index
    on each app's store; the modules keep no cache of their own."""
    import os

    from shopmind.service import qa_variants
    from shopmind.understand import centring, fitting

    for module in (fitting, centring, qa_variants):
        assert not hasattr(module, "_CACHE"), module.__name__

    a, b = _two_homes(tmp_path)
    try:
        path = a.settings.home / "index" / "bridge_centre.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, image_mean=np.full(8, 0.1, np.float32), query_mean=np.full(8, -0.1, np.float32))
        first = a.image_space.current()
        assert first.kind == "centred" and b.image_space.current().kind == "raw"
        assert a.image_space.current().centre is first.centre  # read once while the file is unchanged
        np.savez(path, image_mean=np.full(8, 0.2, np.float32), query_mean=np.full(8, -0.2, np.float32))
        st = path.stat()
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
        again = a.image_space.current()
        assert again.centre is not first.centre and np.allclose(again.centre.image_mean, 0.2)

        ia, ib = qa_variants.get_index(a.store), qa_variants.get_index(b.store)
        assert qa_variants.get_index(a.store) is ia and ia is not ib
        store = a.store
    finally:
        a.close()
        b.close()
    assert store._derived == {}  # closing the app's store drops what was derived from its catalog
