"""The API's documentation pages as a browser sees them: `ecomm serve api` (real uvicorn) on a free port,
opened in headless Debian chromium. /docs (Swagger UI) renders every operation of the OpenAPI
document, and every request the page makes (script, style, favicon, the document) goes to the API's
own host: it works without internet. There is no /redoc (see ecomm.api.app)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from support.api import assert_error, start_api

CHROMIUM = "/usr/bin/chromium"
# no background requests of chromium's own (updates, safe browsing): what is recorded is the page's
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture(scope="module")
def api_base(template_warehouse, tmp_path_factory):
    """The API on the empty template warehouse: the docs need no model and no data."""
    server, base = start_api(template_warehouse, tmp_path_factory)
    yield base
    server.stop()


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: run `make browser`"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 1000})
        finally:
            browser.close()


@pytest.fixture(scope="module")
def operations(api_base) -> list[tuple[str, str]]:
    """(METHOD, path) of every operation the OpenAPI document lists."""
    document = httpx.get(f"{api_base}/openapi.json").json()
    return sorted(
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in HTTP_METHODS
    )


def open_recording(page, url: str, ready_selector: str) -> list[str]:
    """Open `url`, wait until `ready_selector` is on the page and the network is idle; every URL the
    page requested."""
    requested: list[str] = []

    def record(request) -> None:
        requested.append(request.url)

    page.on("request", record)
    try:
        response = page.goto(url, wait_until="networkidle")
        assert response is not None and response.status == 200
        page.wait_for_selector(ready_selector, timeout=60_000)
        page.wait_for_load_state("networkidle")
    finally:
        page.remove_listener("request", record)
    return requested


def assert_local(requested: list[str], base: str) -> None:
    elsewhere = [u for u in requested if not u.startswith((f"{base}/", "data:", "blob:"))]
    assert elsewhere == []
    assert f"{base}/openapi.json" in requested


def favicon_is_served_locally(page, base: str) -> None:
    href = page.eval_on_selector("link[rel~='icon']", "link => link.href")
    assert href.startswith(f"{base}/")
    icon = httpx.get(href)
    assert icon.status_code == 200 and icon.headers["content-type"] == "image/png"


def test_swagger_ui_renders_every_operation_offline(api_base, page, operations):
    requested = open_recording(page, f"{api_base}/docs", ".opblock")
    assert_local(requested, api_base)
    shown = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(b => [
               b.querySelector('.opblock-summary-method').textContent.trim(),
               b.querySelector('.opblock-summary-path').getAttribute('data-path')])""",
    )
    assert sorted(map(tuple, shown)) == operations
    assert ("POST", "/predict/churn") in operations
    favicon_is_served_locally(page, api_base)


def test_there_is_no_redoc_page(api_base):
    # ReDoc's bundle always loads its sidebar logo from cdn.redoc.ly: not offered rather than half offline
    assert_error(httpx.get(f"{api_base}/redoc"), 404, "not_found")
