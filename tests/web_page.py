"""What the browser tests share: waiting for the page, reading it, and moving through it with keys.

Selenium is imported inside the functions, so that collecting the tests needs no browser.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx

from conftest_web import SCREENSHOTS

FR_QUESTION = "reconnaissance des compétences des travailleurs migrants"
EN_QUESTION = "barriers to the recognition of skills and qualifications"
#: a PDF passage's citation names its physical page ("Title, p. 4" or "Title, pp. 4-5")
PAGE_CITE = re.compile(r", pp?\. \d+(-\d+)?(, para\. .+)?$")


def By():  # selenium is imported only when a browser test runs
    from selenium.webdriver.common.by import By as by

    return by


def wait(driver: Any, condition: Any, timeout: float = 20.0) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.02).until(condition)


def results(driver: Any) -> list[Any]:
    """The results once the search answered (the list is no longer marked busy)."""
    wait(driver, lambda d: d.find_element(By().ID, "results").get_attribute("aria-busy") is None
         and d.find_elements(By().CSS_SELECTOR, "#results li.result"))
    return driver.find_elements(By().CSS_SELECTOR, "#results li.result")


def ask(driver: Any, question: str) -> list[Any]:
    from selenium.webdriver.common.keys import Keys

    box = driver.find_element(By().ID, "q")
    box.clear()
    box.send_keys(question + Keys.ENTER)
    return results(driver)


def choose(driver: Any, select_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element(By().ID, select_id)).select_by_value(value)


def query_of(driver: Any) -> dict[str, list[str]]:
    return parse_qs(urlparse(driver.current_url).query)


def api_cites(server: Any, question: str, **filters: list[str]) -> list[str]:
    body = {"query": question, "k": 10, "filters": filters}
    return [r["cite"] for r in httpx.post(server.url + "/search", json=body, timeout=60).json()["results"]]


def screenshot(driver: Any, name: str) -> None:
    """For the README (docs/img/): what a person sees, taken by the tests' own browser."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / name))


def no_horizontal_scroll(driver: Any) -> bool:
    return driver.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def downloaded(folder: Path, suffix: str, timeout: float = 30.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [f for f in folder.iterdir() if f.suffix == suffix]
        if done:
            time.sleep(0.2)
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no {suffix} file was downloaded into {folder}: {list(folder.iterdir())}")


def focus_is_visible(driver: Any) -> bool:
    return driver.execute_script(
        "const s = getComputedStyle(document.activeElement);"
        "return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2;")


def press(driver: Any, *keys: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(driver).send_keys(*keys).perform()


def tab_to(driver: Any, found: str, backwards: bool = False, limit: int = 80) -> None:
    """Press Tab (or Shift+Tab) until the element matching the CSS selector ``found`` has focus,
    checking on the way that every stop shows where the focus is."""
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        press(driver, *((Keys.SHIFT, Keys.TAB, Keys.SHIFT) if backwards else (Keys.TAB,)))
        if driver.execute_script("return document.activeElement === document.body"):
            continue  # past the last stop, focus is in the browser's own controls for one press
        active = driver.switch_to.active_element
        assert focus_is_visible(driver), active.get_attribute("outerHTML")[:200]
        if driver.execute_script("return document.activeElement.matches(arguments[0])", found):
            return
    raise AssertionError(f"{found} was not reached with the keyboard")
