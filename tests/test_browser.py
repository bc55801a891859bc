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


@pytest.fixture
def phone(browser: Any) -> Iterator[Page]:
    """A phone-sized window: 390 CSS pixels wide."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, user_agent="connectkb-browser-test")
    opened = context.new_page()
    yield opened
    context.close()


def _fill_witness_form(page: Page, site: str, age: str, lang: str = "en", bank: str = "boc") -> None:
    page.goto(f"{site}/?lang={lang}#eligibility")
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
    page.fill("#fact-witness_bank", bank)
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
    # the engine's words as they are: a plain word that is also a fact's name is not swapped for its label
    assert "brings both identity documents" in page.inner_text("tr[data-criterion=identity-documents]")
    assert page.is_hidden("#counterfactuals")


def test_switching_to_chinese_answers_the_same_question_in_chinese(page: Page, site: str) -> None:
    _fill_witness_form(page, site, "17")
    page.click("#lang-zh")
    page.wait_for_function("document.querySelector('#verdict-value')?.textContent.includes('不符合资格')")
    assert "申请人年满18周岁" in page.inner_text("tr[data-criterion=minimum-age]")
    assert page.inner_text("[data-tab=timeline]") == "变化时间线"
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


def _page_width(page: Page) -> int:
    return page.evaluate("Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)")


def test_on_a_phone_the_verdict_fits_the_screen(phone: Page, site: str, tmp_path: Path) -> None:
    _fill_witness_form(phone, site, "17")
    assert phone.get_attribute("#verdict-value", "data-verdict") == "ineligible"
    phone.wait_for_selector("#verdict-timeline")
    assert _page_width(phone) <= 390
    # each criterion reads as a card no wider than the screen, its quote included
    box = phone.locator("tr[data-criterion=minimum-age]").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    for tab in ("browse", "timeline"):
        phone.click(f"[data-tab={tab}]")
        assert _page_width(phone) <= 390, tab
    phone.screenshot(path=str(tmp_path / "phone.png"), full_page=True)


def test_a_negative_age_is_shown_at_the_age_field(page: Page, site: str) -> None:
    _fill_witness_form(page, site, "17")
    page.fill("#fact-age", "-1")
    page.click("#evaluate")
    page.wait_for_selector("#fact-age-error:not([hidden])")
    error = page.inner_text("#fact-age-error")
    assert "age of the applicant" in error and "0" in error
    assert page.get_attribute("#fact-age", "aria-invalid") == "true"
    assert page.inner_text("#verdict") == ""  # no verdict, and no raw JSON where the verdict goes
    assert page.is_hidden("#form-error")
    # corrected, the question is answered and the error goes away
    page.fill("#fact-age", "30")
    page.click("#evaluate")
    page.wait_for_selector("#verdict-value")
    assert page.is_hidden("#fact-age-error")


def test_a_field_error_is_in_the_pages_language(page: Page, site: str) -> None:
    _fill_witness_form(page, site, "17", lang="zh")
    page.fill("#fact-age", "-1")
    page.click("#evaluate")
    page.wait_for_selector("#fact-age-error:not([hidden])")
    error = page.inner_text("#fact-age-error")
    assert "申请人年龄" in error and "不小于 0 的整数" in error
    assert "must" not in error and "{" not in error


def test_a_bad_date_is_shown_at_the_date_field(page: Page, site: str) -> None:
    _fill_witness_form(page, site, "30")
    # a date input cannot hold a wrong date: send one as a hand-written client would, through the page's error path
    page.evaluate("""async () => {
        const response = await fetch('/v1/rules/witness-account-opening/evaluate', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: JSON.stringify({facts: {}, as_of: '2025-13-01'})});
        showErrors(new ApiError(response.status, await response.json()));
    }""")
    assert page.is_visible("#as-of-error")
    assert "As of" in page.inner_text("#as-of-error")


RAW = ["hk-identity-card", "hk-permanent-identity-card", "mainland-travel-permit", "holds_account_with_witness_bank",
       "hk_permanent_resident", "witness_bank", "role-agent-witness-bank", "section ", "para ", "footnote",
       "(seed)", "(official)", "(secondary)", "undetermined", "ineligible", "pass", "fail"]


def _officer_text(page: Page) -> str:
    """What an officer reads: the eligibility tab's text and its form's options, quotes left out (they stay
    in the source's words)."""
    return page.evaluate("""() => {
        const section = document.querySelector('#eligibility').cloneNode(true);
        section.querySelectorAll('blockquote').forEach((q) => q.remove());
        const options = [...section.querySelectorAll('option')].map((o) => o.textContent + ' ' + (o.label || ''));
        return [section.innerText, ...options].join(String.fromCharCode(10));
    }""")


def test_the_chinese_page_shows_labels_not_ids(page: Page, site: str) -> None:
    # citibank is not a participating bank: its criterion fails naming the role
    _fill_witness_form(page, site, "17", lang="zh", bank="citibank")
    page.wait_for_selector("#verdict-timeline")
    text = _officer_text(page)
    for raw in RAW:
        assert raw not in text, raw
    assert "香港永久居民身份证" in page.inner_text("#fact-documents")  # the code's label, from the KB
    assert page.inner_text("#fact-documents legend") == "申请人携带的证件"
    assert "代理见证开户参与银行" in page.inner_text("tr[data-criterion=participating-witness-bank]")
    assert "种子文件" in page.inner_text("tr[data-criterion=minimum-age]")  # the tier's label
    assert "脚注2" in page.inner_text("tr[data-criterion=minimum-age]")  # the locator, in Chinese
    assert page.is_hidden("#next-fact")  # a decided answer asks for nothing more


def test_the_traditional_chinese_page(page: Page, site: str) -> None:
    _fill_witness_form(page, site, "17")
    page.click("#lang-zh-hant")
    page.wait_for_function("document.querySelector('#verdict-value')?.textContent.includes('不符合資格')")
    assert page.evaluate("document.documentElement.lang") == "zh-Hant"
    assert "lang=zh-Hant" in page.url
    assert page.inner_text("[data-tab=timeline]") == "變化時間線"
    age = page.inner_text("tr[data-criterion=minimum-age]")
    assert "申請人年滿18周歲" in age  # the criterion's label in Traditional Chinese
    assert page.inner_text("tr[data-criterion=minimum-age] blockquote") == "年满18周岁"  # the quote as the source has it
    assert page.inner_text("#fact-documents legend") == "申請人攜帶的證件"
    text = _officer_text(page)
    for raw in RAW:
        assert raw not in text, raw
    assert page.get_attribute("#lang-zh-hant", "lang") == "zh-Hant"
    assert page.get_attribute("#lang-zh", "lang") == "zh-Hans"


def test_an_ineligible_answer_says_what_would_make_it_eligible_and_how_it_changes(page: Page, site: str) -> None:
    _fill_witness_form(page, site, "17")
    page.wait_for_selector("#verdict-timeline")
    assert page.is_hidden("#next-fact")
    options = page.inner_text("#counterfactuals")
    assert "age of the applicant in whole years: 17 → 18" in options
    intervals = page.eval_on_selector_all("#verdict-timeline li", "nodes => nodes.map(n => n.dataset.verdict)")
    assert intervals and all(v == "ineligible" for v in intervals)  # a 17-year-old stays ineligible all along


def test_an_open_answer_asks_for_the_next_fact(page: Page, site: str) -> None:
    page.goto(f"{site}/#eligibility")
    page.wait_for_selector("body[data-ready=true]")
    page.wait_for_selector("#rule-form[data-rule=witness-account-opening]:not([data-loading])")
    page.fill("#fact-age", "30")
    page.fill("#as-of", "2025-03-01")
    page.click("#evaluate")
    page.wait_for_selector("#verdict-value")
    assert page.get_attribute("#verdict-value", "data-verdict") == "undetermined"
    assert page.inner_text("#next-fact") == "Ask next: the applicant is a Hong Kong permanent resident"


def test_tabs_are_deep_links_and_the_back_button_returns(page: Page, site: str) -> None:
    page.goto(f"{site}/?lang=zh#timeline")
    page.wait_for_selector("body[data-ready=true]")
    assert page.is_visible("#timeline") and page.is_hidden("#eligibility")
    assert page.get_attribute("[data-tab=timeline]", "aria-selected") == "true"
    assert page.get_attribute("[data-tab=timeline]", "role") == "tab"
    page.click("[data-tab=eligibility]")
    page.wait_for_function("location.hash === '#eligibility'")
    assert page.is_visible("#eligibility") and page.is_hidden("#timeline")
    assert page.get_attribute("[data-tab=eligibility]", "aria-selected") == "true"
    assert page.get_attribute("[data-tab=timeline]", "aria-selected") == "false"
    page.go_back()
    page.wait_for_function("location.hash === '#timeline'")
    assert page.is_visible("#timeline") and page.is_hidden("#eligibility")
    assert page.inner_text("[data-tab=timeline]") == "变化时间线"  # the language stays in the address
