"""Headless Chromium (the Debian packages chromium and chromium-driver, which
scripts/setup.sh installs) driven by Selenium, for the HTML report's tests."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
DRIVER = ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver")


def find(candidates, name):
    for path in candidates:
        if Path(path).exists():
            return path
    return shutil.which(name)


def missing_reason() -> str | None:
    if not find(CHROMIUM, "chromium"):
        return "chromium is not installed (scripts/setup.sh installs it: apt-get install chromium chromium-driver)"
    if not find(DRIVER, "chromedriver"):
        return "chromedriver is not installed (apt-get install chromium-driver)"
    return None


@dataclass
class PageReport:
    console: list[dict]        # the browser console's entries
    result: object             # what the check script returned


def open_page(html: Path, check_script: str, screenshot: Path | None = None,
              width: int = 1200, height: int = 900) -> PageReport:
    """Load ``html`` in headless Chromium; run ``check_script`` (JavaScript returning a
    value) in the page; save a full-page screenshot; return the console and the value."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = find(CHROMIUM, "chromium")
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     f"--window-size={width},{height}", "--no-first-run", "--disable-extensions"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(find(DRIVER, "chromedriver")), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(html.resolve().as_uri())
        result = driver.execute_script(check_script)
        if screenshot is not None:
            full = driver.execute_script("return document.documentElement.scrollHeight")
            driver.set_window_size(width, min(int(full) + 100, 12000))
            driver.save_screenshot(str(screenshot))
        console = driver.get_log("browser")
    finally:
        driver.quit()
    return PageReport(console, result)
