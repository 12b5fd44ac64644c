"""The pages in a real browser: headless Chromium (Debian's chromium + chromium-driver) driven by selenium,
against a real uvicorn on loopback. One browser for the module; a screenshot of each page goes to
tests/artifacts/ (and, with KB_SCREENSHOTS=docs, to docs/screenshots/)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER),
                                reason="needs headless Chromium: apt-get install chromium chromium-driver")


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,1000",
                "--hide-scrollbars", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(exist_ok=True)
    yield driver
    driver.quit()


def _errors(driver) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def _screenshot(driver, name: str, whole: bool = True) -> None:
    """The page as a PNG: all of it (up to 4000 px), or the viewport as scrolled (a URL fragment's target)."""
    if whole:
        height = driver.execute_script("return Math.min(document.documentElement.scrollHeight, 4000)")
        driver.set_window_size(1280, max(800, height))
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))
    if os.environ.get("KB_SCREENSHOTS") == "docs":
        shutil.copy(ARTIFACTS / f"{name}.png", ROOT / "docs" / "screenshots" / f"{name}.png")
    driver.set_window_size(1280, 1000)


def test_search_leads_to_the_marker_page_with_exactly_the_queried_ids(browser, pages_server, built_db):
    from selenium.webdriver.common.by import By
    from kb.query import api

    browser.get(pages_server + "/")
    _screenshot(browser, "search")
    box = browser.find_element(By.ID, "marker")
    browser.execute_script("arguments[0].value = 'lactate dehydrogenase'", box)  # the form, without typeahead
    box.submit()
    assert browser.current_url == pages_server + "/markers/ldh"
    shown = [card.get_attribute("id") for card in browser.find_elements(By.CSS_SELECTOR, "article.card")]
    expected = [e["id"] for e in api.evidence("ldh", db=built_db)["evidence"]]
    assert sorted(shown) == sorted(expected) and len(shown) == len(set(shown))
    _screenshot(browser, "marker-ldh")
    assert _errors(browser) == []


def test_clicking_a_quote_opens_the_document_with_that_quote_highlighted(browser, pages_server):
    from selenium.webdriver.common.by import By

    browser.get(pages_server + "/markers/ldh")
    link = browser.find_element(By.CSS_SELECTOR, "article.card blockquote a.q")
    quote = browser.execute_script("return arguments[0].textContent", link)
    link.click()
    fragment = browser.current_url.split("#", 1)[1]
    assert fragment.startswith("span-") and "/documents/" in browser.current_url
    highlighted = browser.execute_script(
        "var id = location.hash.slice(1);"
        "return [document.getElementById(id)].concat(Array.from(document.querySelectorAll('[data-part-of=\"' + id + '\"]')))"
        ".map(function (e) { return e.textContent; }).join('');")
    assert highlighted == quote
    assert browser.execute_script("return document.querySelector(':target').id") == fragment
    _screenshot(browser, "document", whole=False)
    assert _errors(browser) == []


def test_evidence_page_renders_without_console_errors(browser, pages_server):
    browser.get(pages_server + "/evidence/xu2023-ldh-cr12-nastoupil")
    assert "xu2023-ldh-cr12-nastoupil" in browser.title
    _screenshot(browser, "evidence")
    assert _errors(browser) == []


def test_typeahead_suggests_markers_from_the_api(browser, pages_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(pages_server + "/")
    browser.find_element(By.ID, "marker").send_keys("lactate dehyd")
    WebDriverWait(browser, 10).until(lambda d: "matching marker" in d.find_element(By.ID, "marker-status").text)
    options = [o.get_attribute("value") for o in browser.find_elements(By.CSS_SELECTOR, "#marker-options option")]
    assert options and options[0] == "LDH"
    assert _errors(browser) == []


def test_uploading_a_patient_record_shows_the_verdicts_of_kb_evaluate(browser, pages_server, built_db):
    from selenium.webdriver.common.by import By
    from kb.evaluate.evaluator import evaluate_path

    browser.get(pages_server + "/patients")
    assert "For research use only" in browser.find_element(By.CSS_SELECTOR, "main .disclaimer").text
    browser.find_element(By.ID, "record").send_keys(str(ROOT / "examples" / "P001.json"))
    browser.find_element(By.CSS_SELECTOR, "form.patient-form button[type=submit]").click()
    from selenium.webdriver.support.ui import WebDriverWait

    # wait for the result page itself: reading the old page's h1 while the new one loads goes stale
    WebDriverWait(browser, 30).until(lambda d: d.find_element(By.TAG_NAME, "h1").text == "Patient P001")
    first = browser.find_element(By.CSS_SELECTOR, "main > *")
    assert "disclaimer" in first.get_attribute("class")  # the disclaimer comes first
    shown = {a.get_attribute("id")[2:]: a.find_element(By.CSS_SELECTOR, ".verdict").text.split()[-1]
             for a in browser.find_elements(By.CSS_SELECTOR, "article.finding")}
    expected = {f["evidence_id"]: f["verdict"] for f in evaluate_path(ROOT / "examples" / "P001.json", db=built_db)[0][0]["findings"]}
    assert shown == expected
    _screenshot(browser, "patient-P001")
    assert _errors(browser) == []


@pytest.fixture(scope="module")
def open_server(built_db, tmp_path_factory):
    """`kb serve` on a copy of the knowledge base without xu2023's dismissals: every seed paper is fully
    reviewed (0 open sentences), so the copy is how the page gets open candidates to draft from."""
    import duckdb

    from conftest import Server

    work = tmp_path_factory.mktemp("open")
    db = work / "kb.duckdb"
    shutil.copy(built_db, db)
    with duckdb.connect(str(db)) as con:
        con.execute("DELETE FROM dismissal WHERE source_id = 'xu2023'")
    server = Server(db, log=work / "serve.log")
    yield server.url
    server.stop()


def test_pam_and_curation_pages_render_without_console_errors(browser, pages_server, open_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(pages_server + "/pam")
    assert browser.find_elements(By.CSS_SELECTOR, "figure svg[role=img]")
    _screenshot(browser, "pam")
    browser.get(pages_server + "/curation?source=xu2023")
    assert not browser.find_elements(By.LINK_TEXT, "draft an item")  # every seed sentence is covered or dismissed
    browser.get(open_server + "/curation?source=xu2023")
    link = browser.find_element(By.LINK_TEXT, "draft an item")
    link.click()
    draft = browser.find_element(By.ID, "draft-yaml").text
    assert "quotes:" in draft and "context:" in draft
    browser.find_element(By.CSS_SELECTOR, "#validate form button[type=submit]").click()
    problem = WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#validate .problem"))
    assert "evidence_type" in problem[0].text  # a draft leaves the curator's judgements empty
    _screenshot(browser, "curation")
    assert _errors(browser) == []
