"""The console without a browser (in-process app): open mode on loopback only, CSRF, escaping, the string
catalog, no external hosts in any page or asset, and the bundle size."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient


WEB = Path(__file__).resolve().parents[2] / "src" / "shopmind" / "web"
PAGES = ["/ui/catalog", "/ui/search", "/ui/write", "/ui/check", "/ui/live", "/ui/media", "/ui/experiments",
         "/ui/service", "/ui/settings"]


@pytest.fixture()
def app(home):
    from shopmind.api.app import create_app
    from shopmind.config import get_settings

    return create_app(get_settings())


def _client(app, host: str = "127.0.0.1") -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1", client=(host, 40000))


def _csrf(html: str) -> str:
    return re.search(r'"X-CSRF-Token": "([^"]+)"', html).group(1)


def test_open_on_loopback_without_keys_with_a_banner(app) -> None:
    c = _client(app)
    r = c.get("/ui/catalog")
    assert r.status_code == 200 and 'class="banner"' in r.text
    for page in PAGES:
        assert c.get(page).status_code == 200, page
    # The same server seen from another address is not open (the API refuses to bind there without keys anyway).
    remote = _client(app, "10.1.2.3")
    assert remote.get("/ui/catalog", follow_redirects=False).status_code == 303
    assert "login" in remote.get("/").text


def test_sign_in_form_when_keys_exist_and_cookie_flags(app, home) -> None:
    from shopmind.security.keys import KeyStore

    key = KeyStore.for_home(home).create("write").key
    c = _client(app)
    start = c.get("/")
    assert start.status_code == 200 and 'name="key"' in start.text and 'type="password"' in start.text
    assert c.get("/ui/catalog", follow_redirects=False).status_code == 303
    token = _csrf(start.text)
    bad = c.post("/ui/login", data={"key": "smk_0123456789ab_" + "x" * 43, "csrf_token": token})
    assert bad.status_code == 401 and 'id="login-error"' in bad.text
    no_csrf = c.post("/ui/login", data={"key": key})
    assert no_csrf.status_code == 403
    ok = c.post("/ui/login", data={"key": key, "csrf_token": token}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/ui/catalog"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and key.lower() not in cookie
    page = c.get("/ui/check")
    assert page.status_code == 200
    # A write key is not an admin: the settings page is a 403 page, and it is not in the menu.
    assert c.get("/ui/settings").status_code == 403
    assert 'href="/ui/settings"' not in page.text
    # Every post needs the session's token.
    assert c.post("/ui/check", data={"text": "最好的面膜"}).status_code == 403
    assert c.post("/ui/check", data={"text": "最好的面膜"}, headers={"X-CSRF-Token": _csrf(page.text)}).status_code == 200
    # Revoking the key ends the session at the next request.
    KeyStore.for_home(home).revoke(key.split("_")[1])
    assert c.get("/ui/check", follow_redirects=False).status_code == 303


def test_user_text_is_escaped_in_highlights(app) -> None:
    c = _client(app)
    token = _csrf(c.get("/ui/check").text)
    r = c.post("/ui/check", data={"text": "<script>alert(1)</script>全网最好的面膜", "category": "cosmetics"},
               headers={"X-CSRF-Token": token, "HX-Request": "true"})
    assert r.status_code == 200
    assert "<script>alert" not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert r.text.count('<mark class="finding') >= 1


def test_every_template_string_exists_in_both_languages() -> None:
    strings = json.loads((WEB / "strings.json").read_text(encoding="utf-8"))
    used = set()
    for path in list((WEB / "templates").glob("*.html")) + [WEB / "views.py", WEB / "context.py"]:
        used |= set(re.findall(r"""\bt\(['"]([a-z_]+\.[a-z_.]*[a-z])['"]""", path.read_text(encoding="utf-8")))
    assert used, "no strings found"
    missing = sorted(k for k in used if k not in strings)
    assert not missing, missing
    assert all(v.get("zh") and v.get("en") for v in strings.values())


def test_no_page_or_asset_refers_to_another_host(app) -> None:
    c = _client(app)
    bodies = {p: c.get(p).text for p in ["/", *PAGES]}
    for asset in ("/ui/static/console.css", "/ui/static/console.js", "/ui/static/vendor/htmx.min.js"):
        r = c.get(asset)
        assert r.status_code == 200
        bodies[asset] = r.text
    pattern = re.compile(r"""(?:src|href|action|url\()\s*=?\s*["']?\s*(?:https?:)?//""", re.I)
    for name, body in bodies.items():
        assert not pattern.search(body), (name, pattern.search(body))
    for name in PAGES:
        for ref in re.findall(r"""(?:src|href)="([^"]+)\"""", bodies[name]):
            assert ref.startswith(("/", "#", "data:")), (name, ref)


def test_bundle_is_small() -> None:
    total = sum(len(gzip.compress(p.read_bytes(), 9)) for p in (WEB / "static").rglob("*") if p.suffix in {".js", ".css"})
    assert total < 300_000, total
