"""The console's pages timed in headless Chromium (Debian's chromium and chromium-driver, Selenium).

A page counts as rendered when the console marks its content ready (`#main[data-ready=true]` for
that page): every request of its first screen answered and drawn. Each page is opened by changing
the address's `#`, as a click in the navigation does, after a first load of the console (scripts
and styles then come from the browser's cache, as they do for a user); the time is taken inside the
page, from the change to the mark, and the median of `runs` is kept.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile

PAGES = ["overview", "keys", "calls", "alerts", "inventory", "audit", "secrets"]

_TIME_PAGE = """
const [page, run, done] = arguments;
const main = document.getElementById('main');
const expected = page.startsWith('keys/') ? 'key' : page.split('/')[0];
main.dataset.ready = 'false';
const started = performance.now();
// '?run' makes each run a new address, so the page renders anew from nothing.
location.hash = '#/' + page + '?' + run;
const poll = () => {
  if (main.dataset.page === expected && main.dataset.ready === 'true') {
    const error = main.querySelector('.error');
    done({ ms: performance.now() - started, error: error ? error.textContent : null });
  } else if (performance.now() - started > 30000) {
    done({ ms: null, error: 'not ready after 30 s' });
  } else {
    requestAnimationFrame(poll);
  }
};
requestAnimationFrame(poll);
"""


def available() -> bool:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return False
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def measure_pages(base: str, token: str, key_id: str, runs: int = 5) -> dict:
    """{page: {"median_ms": ..., "runs_ms": [...]}} for every page and one key's page."""
    from selenium import webdriver
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    profile = tempfile.mkdtemp(prefix="perimeter-bench-chromium-")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-proxy-server",
                     "--window-size=1280,900", f"--user-data-dir={profile}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=shutil.which("chromedriver")))
    driver.set_script_timeout(60)
    try:
        driver.get(f"{base}/console/")
        WebDriverWait(driver, 30).until(lambda d: d.find_element(By.ID, "main").get_attribute("data-page") == "signin")
        driver.find_element(By.ID, "token").send_keys(token)
        driver.find_element(By.ID, "sign-in").click()
        WebDriverWait(driver, 60).until(lambda d: d.find_element(By.ID, "main").get_attribute("data-ready") == "true")
        results = {}
        for page in PAGES + [f"keys/{key_id}"]:
            times = []
            for run in range(runs):
                outcome = driver.execute_async_script(_TIME_PAGE, page, run)
                if outcome["ms"] is None or outcome["error"]:
                    raise RuntimeError(f"console page {page}: {outcome['error']}")
                times.append(outcome["ms"])
            label = "key" if page.startswith("keys/") else page
            results[label] = {"median_ms": round(statistics.median(times), 1), "runs_ms": [round(t, 1) for t in times]}
        return results
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
