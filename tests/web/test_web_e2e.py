"""End to end in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright): sign in,
fill the intake form for a patient modeled on seed 004's population, read the results, open a
trial page, download the checklist. A screenshot of each step goes to test-output/e2e/."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from conftest import PASSWORD_A

CHROMIUM = Path("/usr/bin/chromium")
OUT = Path(__file__).resolve().parents[2] / "test-output" / "e2e"
SEED004 = "004_21168ffcb5444652"
SEED003 = "NCT04199520"
LAUNCH_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.e2e


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def live_server(seed_db_template, tmp_path):
    """uvicorn on 127.0.0.1:<free port>, in a thread, on a copy of the seed store."""
    import uvicorn

    from trialmatch.store import TrialStore
    from trialmatch.web import Settings, create_app

    path = tmp_path / "e2e.db"
    shutil.copy(seed_db_template[0], path)
    app = create_app(TrialStore(str(path)), settings=Settings(secret="e2e-secret-" + "z" * 20))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not server.started and time.time() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture()
def browser_page():
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium (apt-get install -y chromium; .ci/run does)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        context = browser.new_context(accept_downloads=True, viewport={"width": 412, "height": 900})
        page = context.new_page()
        page.set_default_timeout(30_000)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def test_sign_in_intake_results_trial_checklist(live_server, browser_page):
    page = browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    shot = lambda name: page.screenshot(path=str(OUT / name), full_page=True)  # noqa: E731

    # 1. sign in (the page asks for it first)
    page.goto(live_server + "/patients/new")
    assert "/login" in page.url
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD_A)
    shot("01-sign-in.png")
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/patients/new$"))

    # 2. the intake form, four parts: a postmenopausal woman, ER 85 %, HER2-negative, de novo
    #    metastatic, no therapy yet for advanced disease, labs fine, ECOG 0
    page.fill("#patient_id", "e2e-004")
    page.fill("#label", "Browser Test Patient")
    page.fill("#age", "61")
    page.select_option("#sex", "female")
    page.select_option("#menopausal_status", "postmenopausal")
    page.select_option("#ecog", "0")
    page.select_option("#pregnant", "no")
    page.select_option("#breastfeeding", "no")
    page.fill("input[name=life_expectancy_months]", "24")
    page.fill("#lab_date", "2026-11-01")
    for name, value, unit in [("hemoglobin", "12.8", "g/dL"), ("wbc", "6.2", "10^9/L"), ("anc", "3.9", "10^9/L"),
                              ("platelets", "260", "10^9/L"), ("creatinine", "0.7", "mg/dL"), ("alt", "21", "U/L"),
                              ("ast", "24", "U/L"), ("total_bilirubin", "0.5", "mg/dL")]:
        page.fill(f"#lab_{name}", value)
        page.select_option(f"#lab_{name}_unit", unit)
    for name, uln in [("creatinine", "1.1"), ("alt", "40"), ("ast", "40"), ("total_bilirubin", "1.2")]:
        page.fill(f"#lab_{name}_uln", uln)
    page.select_option("#cancer_type", "breast_cancer")
    page.select_option("#histology", "invasive_ductal")
    page.select_option("#stage", "IV")
    page.select_option("#extent", "metastatic")
    page.fill("#diagnosis_date", "2026-09-10")
    page.fill("#metastatic_date", "2026-09-10")
    page.select_option("#measurable_disease", "yes")
    page.check("#met_bone")
    page.check("#met_lung")
    page.select_option("#brain_mets", "none")
    page.fill("#er_percent", "85")
    page.select_option("#er_status", "positive")
    page.fill("#pr_percent", "30")
    page.select_option("#pr_status", "positive")
    page.select_option("#her2_ihc", "1+")
    page.select_option("#her2_ish", "negative")
    page.check("#no_prior_any")
    page.check("#no_prior_advanced")
    shot("02-intake.png")
    page.click("#submit-form")
    page.wait_for_url(re.compile(r".*/patients/e2e-004/results"))

    # 3. results: a verdict badge per trial; seed 004's trial is not ineligible; the withdrawn one is marked
    shot("03-results.png")
    problems = []  # verdict problems are collected so every step still runs and is photographed
    item004 = page.locator(f"#trial-{SEED004}")
    v004 = item004.get_attribute("data-verdict")
    if v004 not in ("eligible", "uncertain"):
        problems.append(f"seed 004's trial is {v004} for a patient of its population: "
                        + item004.locator("ul.deciding").inner_text())
    assert item004.locator("[data-role=verdict]").inner_text().strip().lower() == v004
    item003 = page.locator(f"#trial-{SEED003}")
    assert "withdrawn" in item003.locator("[data-role=closed]").inner_text().lower()
    verdicts = page.locator("li.result").evaluate_all("els => els.map(e => e.dataset.verdict)")
    assert len(verdicts) == 5
    order = {"eligible": 0, "uncertain": 1, "ineligible": 2}
    assert [order[v] for v in verdicts] == sorted(order[v] for v in verdicts), "ranked by verdict"

    # 4. the trial page, criteria marked for this patient
    item004.locator(f"a[href$='/trials/{SEED004}']").click()
    page.wait_for_url(re.compile(rf".*/patients/e2e-004/trials/{SEED004}$"))
    assert page.locator("#trial-verdict").inner_text().strip().lower() == v004
    assert page.locator("table.criteria tbody tr").count() > 5
    shot("04-trial.png")

    # 5. the printable checklist, downloaded
    page.go_back()
    with page.expect_download() as dl:
        page.click("#checklist-download")
    target = OUT / "checklist.html"
    dl.value.save_as(str(target))
    html = target.read_text(encoding="utf-8")
    assert SEED004 in html and "Screening checklist" in html
    assert "Browser Test Patient" not in html  # the label stays in the record, not on printouts
    page.goto(live_server + "/patients/e2e-004/checklist")
    page.emulate_media(media="print")
    shot("05-checklist-print.png")
    for name in ("01-sign-in.png", "02-intake.png", "03-results.png", "04-trial.png", "05-checklist-print.png"):
        assert (OUT / name).stat().st_size > 1000
    assert not problems, problems


def test_api_docs_render_offline(live_server, browser_page):
    """/docs (Swagger UI) and /redoc render with every request to anything but this server
    aborted: their assets come from the app itself, not a CDN."""
    page = browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    left: list[str] = []

    def only_local(route):
        url = route.request.url
        if url.startswith(live_server + "/") or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            left.append(url)
            route.abort()

    page.context.route("**/*", only_local)
    page.goto(live_server + "/docs")
    # Swagger UI lists every operation, e.g. the FHIR match and the patient endpoints
    page.wait_for_selector(".opblock-summary-path", timeout=30_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/fhir/match" in p for p in paths), paths
    assert any("/api/v1/patients/{patient_id}" in p.replace("\u200b", "") for p in paths), paths
    page.screenshot(path=str(OUT / "docs-swagger.png"), full_page=False)

    page.goto(live_server + "/redoc")
    # ReDoc lists the operations as headings (its side menu is folded away at this width)
    heading = page.get_by_role("heading", name=re.compile("Match a patient's FHIR Bundle"))
    heading.first.wait_for(timeout=30_000)
    assert page.get_by_role("heading", name=re.compile("Create \\(or add a version of\\) a patient")).count() >= 1
    page.screenshot(path=str(OUT / "docs-redoc.png"), full_page=False)
    assert left == [], f"requests left the machine: {left}"
