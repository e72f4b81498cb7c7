"""A page checked in a real browser: headless Debian Chromium, driven by Playwright.

Usage::

    require_browser()                      # skip (or fail under DEEPMOUSE_REQUIRE_BROWSER=1)
    check = check_page(path, widths=(390, 1280), screenshot=tmp_path / "page.png")
    assert not check.problems()

:func:`require_browser` skips a test when Chromium or Playwright is missing, unless the
environment variable ``DEEPMOUSE_REQUIRE_BROWSER=1`` is set (CI), in which case it fails. The
browser is never downloaded: Playwright drives ``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import load_benchmark

_browser = load_benchmark("report_screenshot")
CHROMIUM = _browser.CHROMIUM
open_page = _browser.open_page


def require_browser() -> None:
    """Skip (or fail under ``DEEPMOUSE_REQUIRE_BROWSER=1``) when Chromium or Playwright is
    missing."""
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"Chromium not installed at {CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright not installed (pip install -e '.[dev]')")
    if not missing:
        return
    reason = "; ".join(missing)
    if os.environ.get("DEEPMOUSE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"DEEPMOUSE_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


class _ImgCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images = 0

    def handle_starttag(self, tag, attrs) -> None:
        self.images += tag == "img"


def count_img_tags(page: str) -> int:
    """The ``<img>`` elements in an HTML text."""
    counter = _ImgCounter()
    counter.feed(page)
    return counter.images


@dataclass
class PageCheck:
    """What the browser saw of one page.

    Attributes:
        url: the page's own ``file://`` URL.
        img_tags: ``<img>`` elements in the HTML text.
        images: per image in the rendered page: ``src`` (its first 60 characters),
            ``naturalWidth`` (0: not decoded) and ``alt``.
        requests: every URL the page asked for.
        console_errors: console messages of type error; page_errors: uncaught exceptions.
        widths: per viewport width, the document's ``scrollWidth``.
        screenshot: the PNG taken at the last width, if asked for.
    """

    url: str
    img_tags: int
    images: list[dict] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    widths: dict[int, int] = field(default_factory=dict)
    screenshot: Path | None = None

    def problems(self) -> list[str]:
        """Everything wrong with the page, one line each (empty: the page is fine)."""
        found = []
        if len(self.images) != self.img_tags:
            found.append(f"{self.img_tags} <img> in the HTML, {len(self.images)} in the page")
        found += [f"image not decoded: {i['src']}" for i in self.images if i["width"] <= 0]
        found += [f"image without alt text: {i['src']}" for i in self.images
                  if len(i["alt"].strip()) < 10]
        found += [f"request left the page: {url}" for url in self.requests
                  if url != self.url and not url.startswith("data:")]
        found += [f"console error: {text}" for text in self.console_errors]
        found += [f"page error: {text}" for text in self.page_errors]
        found += [f"wider than the window at {width} px: scrollWidth {scroll}"
                  for width, scroll in self.widths.items() if scroll > width]
        return found


def check_page(path: Path, widths: tuple[int, ...] = (390, 1280), height: int = 900,
               screenshot: Path | None = None) -> PageCheck:
    """Open the HTML file ``path`` in headless Chromium and record what :class:`PageCheck`
    holds, the layout at every viewport width in ``widths`` (a screenshot of the full page at
    the last one into ``screenshot``)."""
    url = path.resolve().as_uri()
    check = PageCheck(url=url, img_tags=count_img_tags(path.read_text(encoding="utf-8")))
    with open_page(widths[0], height) as page:
        page.context.on("request", lambda request: check.requests.append(request.url))
        page.on("console", lambda msg: msg.type == "error" and check.console_errors.append(
            msg.text))
        page.on("pageerror", lambda exc: check.page_errors.append(str(exc)))
        page.goto(url, wait_until="load")
        check.images = page.evaluate("""() => Array.from(document.images).map(i => (
            {src: i.getAttribute('src').slice(0, 60), width: i.naturalWidth, alt: i.alt}))""")
        for width in widths:
            page.set_viewport_size({"width": width, "height": height})
            inner, scroll = page.evaluate(
                "() => [window.innerWidth, document.documentElement.scrollWidth]")
            assert inner == width, (inner, width)  # the viewport really is that wide
            check.widths[width] = scroll
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
            check.screenshot = screenshot
    return check
