"""The web console in real Chromium (Debian's chromium and chromium-driver, driven by Selenium):
sign in, create a key and copy its secret, watch an SDK call arrive in the live tail and the spend
move, revoke the key and see the SDK refused, a viewer without write controls, CSRF-less and
session-less requests refused, keyboard navigation, and both widths. Screenshots of every page are
saved under PERIMETER_ARTIFACTS (default .build/artifacts/console)."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import time
from pathlib import Path

import openai
import pytest

from perimeter_harness import REPO_ROOT, openai_client

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
ARTIFACTS = Path(os.environ.get("PERIMETER_ARTIFACTS", REPO_ROOT / ".build" / "artifacts")) / "console"
PAGES = ["overview", "keys", "calls", "alerts", "inventory", "audit", "secrets"]


@pytest.fixture(scope="module")
def console(gateway_factory_session):
    return gateway_factory_session("console")


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("chromium and chromium-driver are needed (scripts/test installs them from Debian)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-proxy-server",
                     "--window-size=1280,900", f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    driver.set_script_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def wait(driver, condition, timeout: float = 10, message: str = ""):
    # A page re-renders as data arrives: an element found a moment ago may be replaced.
    ignored = (NoSuchElementException, StaleElementReferenceException)
    return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=ignored).until(lambda d: condition(d), message)


def page_ready(driver, page: str, timeout: float = 10):
    wait(driver, lambda d: d.find_element(By.ID, "main").get_attribute("data-page") == page
         and d.find_element(By.ID, "main").get_attribute("data-ready") == "true", timeout, f"page {page} never became ready")
    errors = driver.find_elements(By.CSS_SELECTOR, "#main .error")
    shown = [e.text for e in errors if e.text.strip()]
    assert not shown, f"page {page} shows errors: {shown}"
    # No script error and nothing the Content-Security-Policy had to block (an inline style, say).
    problems = [entry["message"] for entry in driver.get_log("browser")
                if "Content Security Policy" in entry["message"] or "Uncaught" in entry["message"]]
    assert not problems, f"page {page}: {problems}"


def visit(driver, gateway, page: str):
    driver.get(f"{gateway.url}/console/#/{page}")
    driver.execute_script("window.dispatchEvent(new HashChangeEvent('hashchange'))")
    page_ready(driver, "key" if page.startswith("keys/") else page.split("/")[0])


def shot(driver, name: str):
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def sign_in(driver, gateway, token: str):
    driver.delete_all_cookies()
    driver.get(f"{gateway.url}/console/")
    page_ready(driver, "signin")
    field = driver.find_element(By.ID, "token")
    field.send_keys(token)
    driver.find_element(By.ID, "sign-in").click()
    page_ready(driver, "overview")


def fetch(driver, method: str, path: str, body=None, headers=None, credentials="same-origin"):
    """A request made by the page's own JavaScript: (status, text)."""
    return driver.execute_async_script(
        """
        const [method, path, body, headers, credentials, done] = arguments;
        fetch(path, {method, headers, credentials, body: body === null ? undefined : body})
          .then(async (r) => done([r.status, await r.text()]), (e) => done([0, String(e)]));
        """, method, path, body, headers or {}, credentials)


def test_sign_in_create_key_call_live_and_revoke(browser, console, provider_secrets):
    driver = browser
    driver.set_window_size(1280, 900)
    driver.delete_all_cookies()
    driver.get(f"{console.url}/console/")
    page_ready(driver, "signin")
    shot(driver, "signin")
    driver.find_element(By.ID, "token").send_keys("e2e-admin-wrong")
    driver.find_element(By.ID, "sign-in").click()
    wait(driver, lambda d: "not a valid" in d.find_element(By.CSS_SELECTOR, ".signin .error").text)
    assert not any(c["name"] == "perimeter_session" for c in driver.get_cookies())

    sign_in(driver, console, provider_secrets.admin_token)
    cookie = next(c for c in driver.get_cookies() if c["name"] == "perimeter_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert provider_secrets.admin_token not in driver.current_url
    # The page keeps no token: not in storage, not in the document.
    assert driver.execute_script("return localStorage.length + sessionStorage.length") == 0
    assert provider_secrets.admin_token not in driver.page_source

    # Create a key with a budget; its secret is shown once, with a copy button.
    visit(driver, console, "keys")
    driver.find_element(By.CSS_SELECTOR, "#create-panel summary").click()
    driver.find_element(By.ID, "new-name").send_keys("console-made")
    driver.find_element(By.ID, "new-env").send_keys("prod")
    driver.find_element(By.ID, "new-owner").send_keys("web-team")
    driver.find_element(By.ID, "limit-budget").send_keys("5")
    driver.find_element(By.ID, "limit-rpm").send_keys("600")
    driver.find_element(By.ID, "create-key-submit").click()
    secret = wait(driver, lambda d: d.find_element(By.ID, "new-key-secret").text)
    assert secret.startswith("prm_prod_")
    shot(driver, "keys-created")
    driver.find_element(By.ID, "copy-secret").click()
    wait(driver, lambda d: "Copied" in d.find_element(By.ID, "toast").text or "Selected" in d.find_element(By.ID, "toast").text)
    created = [k for k in console.cli_json("keys", "list")["data"] if k["name"] == "console-made"]
    assert len(created) == 1 and created[0]["limits"]["budget"] == {"usd": 5, "period": "month"} and created[0]["limits"]["rpm"] == 600
    key_id = created[0]["id"]
    # Reloaded, the list shows the key but never its secret again.
    visit(driver, console, "keys")
    wait(driver, lambda d: "console-made" in d.find_element(By.ID, "keys-table").text)
    assert secret not in driver.page_source

    # The live tail shows an SDK call within a second; the overview's spend moves.
    visit(driver, console, "calls")
    driver.find_element(By.ID, "live-tail").click()
    wait(driver, lambda d: d.find_element(By.ID, "live-state").text == "live", 5, "the live tail never connected")
    client = openai_client(console, secret)
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "from the console test"}])
    assert completion.choices[0].message.content
    seen = time.monotonic()
    wait(driver, lambda d: "console-made" in d.find_element(By.ID, "calls-table").text, 3, "the call never reached the live tail")
    assert time.monotonic() - seen < 1.5, "the call took more than a second to appear"
    shot(driver, "calls-live")

    visit(driver, console, "overview")
    wait(driver, lambda d: d.find_element(By.ID, "spend-today").text not in ("$0.00", ""))
    assert int(driver.find_element(By.ID, "calls-hour").text.replace(",", "")) >= 1
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#spend-chart svg rect"), 5, "the spend chart drew no bar")
    shot(driver, "overview")

    # Key detail: revoke with a reason; the SDK is then refused.
    visit(driver, console, f"keys/{key_id}")
    assert "console-made" in driver.find_element(By.TAG_NAME, "h1").text
    wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#main svg"))
    shot(driver, "key")
    driver.find_element(By.ID, "revoke-reason").send_keys("leaked in a ticket")
    driver.find_element(By.ID, "revoke").click()
    wait(driver, lambda d: d.switch_to.alert).accept()
    wait(driver, lambda d: "revoked" in d.find_element(By.TAG_NAME, "h1").text)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "after revoke"}])

    # The audit log names who acted, through the console.
    entries = console.cli_json("audit")["data"]
    revoke = next(e for e in entries if e["action"] == "key.revoke" and e["target"] == key_id)
    details = json.loads(revoke["details"])
    assert details["reason"] == "leaked in a ticket" and details["via"] == "console"
    assert any(e["action"] == "session.start" for e in entries)

    for page in PAGES:
        visit(driver, console, page)
        shot(driver, f"{page}-1280")

    # Sign-out ends the session on the server: the old cookie is refused afterwards.
    old = next(c for c in driver.get_cookies() if c["name"] == "perimeter_session")["value"]
    driver.find_element(By.ID, "sign-out").click()
    page_ready(driver, "signin")
    status, _, _ = console.http("GET", "/admin/v1/keys", headers={"Cookie": f"perimeter_session={old}"})
    assert status == 401


def test_a_viewer_finds_no_write_control_and_the_api_refuses_anyway(browser, console):
    viewer = console.cli_json("admins", "create", "--name", "console-viewer", "--role", "viewer")["token"]
    key = console.create_key("viewed", "staging")
    sign_in(browser, console, viewer)
    assert browser.find_element(By.ID, "who-role").text == "viewer"
    for page in PAGES + [f"keys/{key['id']}"]:
        visit(browser, console, page)
        forms = browser.find_elements(By.CSS_SELECTOR, "#main form:not(#calls-filter)")
        buttons = [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#main button") if b.text in ("Create key", "Revoke", "Rotate", "Put", "Save limits")]
        assert not forms and not buttons, f"{page} shows write controls to a viewer: {buttons}"
    shot(browser, "viewer-key")
    csrf = browser.execute_script("return fetch('/admin/v1/session').then(r => r.json()).then(s => s.csrf_token)")
    status, text = fetch(browser, "POST", "/admin/v1/keys", json.dumps({"name": "sneaky", "env": "prod"}),
                         {"content-type": "application/json", "x-csrf-token": csrf})
    assert status == 403 and "viewer" in text
    assert not [k for k in console.cli_json("keys", "list")["data"] if k["name"] == "sneaky"]


def test_csrf_less_and_session_less_requests_are_refused(browser, console, provider_secrets):
    sign_in(browser, console, provider_secrets.admin_token)
    # A plain HTML form post from the console's own origin carries the cookie, but no CSRF token.
    browser.execute_script(
        """
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = '/admin/v1/keys';
        form.enctype = 'text/plain';
        const field = document.createElement('input');
        field.name = '{"name":"forged","env":"prod","x":"';
        field.value = '"}';
        form.append(field);
        document.body.append(form);
        form.submit();
        """)
    wait(browser, lambda d: "CSRF" in d.find_element(By.TAG_NAME, "body").text, 5, "the form post was not refused for CSRF")
    browser.get(f"{console.url}/console/")
    page_ready(browser, "overview")
    status, text = fetch(browser, "POST", "/admin/v1/keys", json.dumps({"name": "forged2", "env": "prod"}), {"content-type": "application/json"})
    assert status == 403 and "CSRF" in text
    status, _ = fetch(browser, "GET", "/admin/v1/keys", credentials="omit")
    assert status == 401
    names = {k["name"] for k in console.cli_json("keys", "list")["data"]}
    assert "forged" not in names and "forged2" not in names
    # The page's own headers: a strict policy, no framing.
    status, headers, _ = console.http("GET", "/console/")
    assert status == 200 and "default-src 'self'" in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"


def test_keyboard_navigation_and_narrow_screens(browser, console, provider_secrets):
    sign_in(browser, console, provider_secrets.admin_token)
    # Each page puts focus on its content; the navigation is just above it, reached with Shift+Tab.
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    for _ in range(12):
        if browser.switch_to.active_element.text == "Keys":
            break
        ActionChains(browser).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
    assert browser.switch_to.active_element.text == "Keys", "Shift+Tab never reached the Keys link"
    browser.switch_to.active_element.send_keys(Keys.ENTER)
    page_ready(browser, "keys")
    # The skip link (the first stop from the top of the page) jumps to the content.
    browser.execute_script("document.querySelector('.skip').focus()")
    skip = browser.switch_to.active_element
    assert skip.text == "Skip to content" and skip.is_displayed()
    skip.send_keys(Keys.ENTER)
    assert browser.switch_to.active_element.get_attribute("id") == "main"
    # Sorting by a column header works from the keyboard too.
    header = browser.find_element(By.CSS_SELECTOR, "#keys-table th button")
    header.send_keys(Keys.ENTER)
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#keys-table th").get_attribute("aria-sort") != "none")

    browser.set_window_size(390, 844)
    try:
        for page in PAGES:
            visit(browser, console, page)
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, f"{page} is wider than a 390 px screen by {overflow} px"
            shot(browser, f"{page}-390")
    finally:
        browser.set_window_size(1280, 900)


def test_an_open_live_tail_ends_with_its_session(console, provider_secrets):
    """Signed out (or expired, or its token revoked), a session's open event stream ends within
    seconds: a stream never outlives the session that opened it."""
    status, headers, body = console.http(
        "POST", "/admin/v1/session", json.dumps({"token": provider_secrets.admin_token}).encode(), {"Content-Type": "application/json"})
    assert status == 201
    cookie = headers["set-cookie"].split(";")[0]
    csrf = json.loads(body)["csrf_token"]
    connection = http.client.HTTPConnection("127.0.0.1", console.port, timeout=10)
    try:
        connection.request("GET", "/admin/v1/calls/stream", headers={"Cookie": cookie})
        response = connection.getresponse()
        assert response.status == 200 and response.getheader("content-type") == "text/event-stream"
        assert response.readline().startswith(b": connected")
        status, _, _ = console.http("DELETE", "/admin/v1/session", headers={"Cookie": cookie, "X-CSRF-Token": csrf})
        assert status == 204
        started = time.monotonic()
        response.read()  # returns when the server ends the stream; a stream left open times out instead
        assert time.monotonic() - started < 5
    finally:
        connection.close()
