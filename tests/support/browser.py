"""The dashboard in a real browser, for its browser test (tests/e2e) and its benchmark (benchmarks/,
which imports it as `tests.support.browser`).

`serving` runs the platform's own dashboard service (`streamlit run ...`) for some settings; `open_browser`
launches Debian's chromium (Playwright drives it; no browser is ever downloaded); `render` opens a page
and returns once Streamlit's script has finished and every chart is drawn.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ecomm.settings import Settings

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]
ERROR_SELECTOR = '[data-testid="stException"], [data-testid="stAlertContentError"]'

# True once the page's script run has finished (not stale, no placeholder left) and every plotly chart
# is drawn (maps: their country shapes too).
RENDERED_JS = """(title) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]')) return false;
  const h1 = document.querySelector('[data-testid="stMain"] h1');
  if (!h1 || !h1.textContent.includes(title)) return false;
  for (const chart of document.querySelectorAll('[data-testid="stPlotlyChart"]')) {
    if (!chart.querySelector('.main-svg')) return false;
    if (chart.querySelector('.geo') && !chart.querySelector('.choroplethlocation')) return false;
  }
  return true;
}"""


@contextmanager
def serving(
    settings: Settings,
    log: Path,
    *,
    script: Path | None = None,
    toolbar: str = "viewer",
    timeout_s: float = 120.0,
) -> Iterator[str]:
    """The platform's dashboard service for `settings` (port: settings.streamlit_port) until the block
    ends; yields its base URL once its health check answers. `script` serves another Streamlit script
    the same way (a benchmark's baseline); toolbar "developer" allows clearing the caches ("c" key)."""
    from ecomm.orchestration.config import child_env
    from ecomm.platform.services import check_health, streamlit_service
    from ecomm.platform.supervisor import stop_group

    service = streamlit_service(settings)
    command = list(service.command)
    if script is not None:
        command[command.index("run") + 1] = str(script)
    command[command.index("--client.toolbarMode") + 1] = toolbar
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        process = subprocess.Popen(
            command,
            env=child_env(settings),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not check_health(service):
            if process.poll() is not None:
                raise RuntimeError(f"streamlit exited {process.returncode}; see {log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{service.health_url} did not answer in {timeout_s:.0f} s; see {log}")
            time.sleep(0.3)
        yield f"http://127.0.0.1:{settings.streamlit_port}"
    finally:
        stop_group(process.pid)


@contextmanager
def open_browser(width: int = 1400, height: int = 1000) -> Iterator:
    """A Playwright page in headless Debian chromium."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make browser` (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def render(page, url: str, title: str, timeout_s: float = 180.0) -> float:
    """Open `url`, wait until the page titled `title` is fully rendered; the seconds it took."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function(RENDERED_JS, arg=title, timeout=timeout_s * 1000, polling=50)
    return time.perf_counter() - start


def navigate(page, title: str, timeout_s: float = 180.0) -> float:
    """Go to the page titled `title` through the sidebar (the app stays loaded, as when a user clicks);
    the seconds until it is fully rendered."""
    start = time.perf_counter()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=title, exact=True).click()
    page.wait_for_function(RENDERED_JS, arg=title, timeout=timeout_s * 1000, polling=50)
    return time.perf_counter() - start


def clear_caches(page) -> None:
    """Streamlit's "Clear caches" (data and resources: results, connection pools, loaded models), as a
    developer does it: the "c" key, then the dialog's button. Needs toolbar "developer"."""
    page.keyboard.press("c")
    page.get_by_role("button", name="Clear caches").click()
    page.get_by_role("button", name="Clear caches").wait_for(state="detached")


def errors(page) -> list[str]:
    """The texts of Streamlit's exception and error elements on the page."""
    return page.locator(ERROR_SELECTOR).all_inner_texts()


def screenshot(page, path: Path) -> None:
    """The whole page (Streamlit scrolls its main block, not the window: grow the viewport to fit)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size
    height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMainBlockContainer\"]').scrollHeight"
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 120, 12_000)})
    page.wait_for_timeout(300)  # charts re-layout to the new size
    page.screenshot(path=str(path))
    page.set_viewport_size(size)
