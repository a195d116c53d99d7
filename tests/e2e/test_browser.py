"""The page nginx serves, in a real browser (headless Chromium): it loads cleanly, its GET box
shows the titles, new titles appear after a reload, and an edit to the app shows without a restart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import browser
from tests.support.harness import Project
from tests.support.waiting import wait_until

VIEWS = "app/src/blog/views.py"
LIST_LINE = "    titles = db.list_titles()"


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    """A headless Chromium; fails (never skips) when there is none, saying how to get one."""
    problem = browser.missing()
    if problem:
        pytest.fail(f"the browser cases need Chromium: {problem}", pytrace=False)
    with browser.chromium() as driver:
        yield driver


def ask(page: Any, path: str = "/blogs") -> str:
    """Type a path in the GET box, press GET, return what the page shows."""
    from selenium.webdriver.common.by import By

    box = page.find_element(By.ID, "path")
    box.clear()
    box.send_keys(path)
    answer = page.find_element(By.ID, "answer")
    before = answer.text
    page.find_element(By.CSS_SELECTOR, "#query button").click()
    return wait_until(lambda: answer.text != before and answer.text, timeout=10, interval=0.05, what="the page's answer")


def test_the_page_loads_without_a_console_error_and_shows_the_titles(up: Project, page: Any) -> None:
    page.get(up.url("/", "WEB_PORT"))
    assert "Containerized Python Development" in page.title
    shown = ask(page)
    assert shown.startswith("200") and "Blog post #1" in shown
    assert browser.console_errors(page) == []


def test_a_title_added_through_the_api_shows_after_a_reload(up: Project, page: Any) -> None:
    assert up.http("POST", "/blogs", {"title": "Seen in the browser"})[0] == 201
    page.get(up.url("/", "WEB_PORT"))
    assert "Seen in the browser" in ask(page)
    assert browser.console_errors(page) == []


def test_an_edit_to_the_app_shows_in_the_page_without_a_restart(up: Project, page: Any) -> None:
    before = up.app().container_id, up.app().started_at
    up.edit(VIEWS, LIST_LINE, LIST_LINE + ' + ["edited live"]')
    try:
        page.get(up.url("/", "WEB_PORT"))
        wait_until(lambda: "edited live" in ask(page), timeout=15, interval=0.2, what="the edit in the page")
        assert (up.app().container_id, up.app().started_at) == before
    finally:
        up.edit(VIEWS, LIST_LINE + ' + ["edited live"]', LIST_LINE)
