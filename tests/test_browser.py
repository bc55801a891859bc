"""The web page in a real headless Chromium (Debian's package, driven by Playwright; no browser
download): a compliance officer fills the witness-account form for a 17-year-old, reads the verdict
with the quoted source, switches to Chinese, and filters the timeline to January 2025."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, sync_playwright

from connectkb.app import create_app
from connectkb.knowledge.load import LoadedKB

from .conftest import LiveServer, debian_tool, free_port

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium() -> str:
    return debian_tool("chromium", "chromium")


@pytest.fixture(scope="module")
def site(kb: LoadedKB) -> Iterator[str]:
    with LiveServer(create_app(kb), free_port()) as live:
        yield live.base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 1000},
                                  user_agent="connectkb-browser-test")
    opened = context.new_page()
    yield opened
    context.close()


def _fill_witness_form(page: Page, site: str, age: str) -> None:
    page.goto(f"{site}/#eligibility")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#rule-select", "witness-account-opening")
    # selecting reloads the rule's form: fill it only once the new fields are in place
    page.wait_for_selector("#rule-form[data-rule=witness-account-opening]:not([data-loading])")
    page.fill("#fact-age", age)
    page.select_option("#fact-hk_permanent_resident", "true")
    page.select_option("#fact-holds_account_with_witness_bank", "true")
    page.check("#fact-documents input[value=hk-permanent-identity-card]")
    page.check("#fact-documents input[value=mainland-travel-permit]")
    page.select_option("#fact-account_class", "II")
    page.fill("#fact-witness_bank", "boc")
    page.fill("#as-of", "2025-03-01")
    page.click("#evaluate")
    page.wait_for_selector("#verdict-value")


def test_a_17_year_old_is_ineligible_with_the_age_criterion_quoted(page: Page, site: str, tmp_path: Path) -> None:
    _fill_witness_form(page, site, "17")
    assert page.get_attribute("#verdict-value", "data-verdict") == "ineligible"
    assert "ineligible" in page.inner_text("#verdict-value")
    age = page.inner_text("tr[data-criterion=minimum-age]")
    assert "fail" in age and "年满18周岁" in age  # the source's own words
    assert "pass" in page.inner_text("tr[data-criterion=participating-witness-bank]")
    page.screenshot(path=str(tmp_path / "eligibility.png"), full_page=True)
    assert (tmp_path / "eligibility.png").stat().st_size > 10_000


def test_an_adult_is_eligible(page: Page, site: str) -> None:
    _fill_witness_form(page, site, "30")
    assert page.get_attribute("#verdict-value", "data-verdict") == "eligible"


def test_switching_to_chinese_answers_the_same_question_in_chinese(page: Page, site: str) -> None:
    _fill_witness_form(page, site, "17")
    page.click("#lang-zh")
    page.wait_for_function("document.querySelector('#verdict-value')?.textContent.includes('不符合资格')")
    assert "申请人年满18周岁" in page.inner_text("tr[data-criterion=minimum-age]")
    assert page.inner_text("button[data-tab=timeline]") == "变化时间线"
    assert page.evaluate("document.documentElement.lang") == "zh-Hans"


def test_the_timeline_filtered_to_january_2025(page: Page, site: str) -> None:
    page.goto(f"{site}/#timeline")
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#tl-from", "2024-12-31")
    page.fill("#tl-to", "2025-01-31")
    page.click("#tl-show")
    page.wait_for_function("document.querySelectorAll('#tl-list li').length > 0")
    items = page.inner_text("#tl-list")
    assert "Standard Chartered as a participating bank for agent witness account opening" in items
    assert "Northbound bonds as Northbound Swap Connect initial margin" in items
    dates = [d for d in page.eval_on_selector_all("#tl-list .date", "nodes => nodes.map(n => n.textContent)")]
    assert dates and all("2025-01-01" <= d <= "2025-01-31" for d in dates)
    page.fill("#tl-from", "2020-01-01")
    page.fill("#tl-to", "2020-12-31")
    page.click("#tl-show")
    page.wait_for_function("document.querySelector('#tl-count').textContent.startsWith('0 ')")


def test_browsing_banks_leads_to_a_bank_page(page: Page, site: str) -> None:
    page.goto(f"{site}/")
    page.wait_for_selector("body[data-ready=true]")
    page.select_option("#browse-type", "CommercialBank")
    page.wait_for_function("document.querySelector('#browse-list').textContent.includes('HSBC')")
    page.click("text=The Hongkong and Shanghai Banking Corporation Limited (HSBC)")
    page.wait_for_selector("h1")
    assert "HSBC" in page.inner_text("h1")
    assert "2024-10-27" in page.content()
