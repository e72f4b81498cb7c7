"""Screenshot a deepmouse report in headless Chromium (Debian's /usr/bin/chromium, driven by
Playwright; no browser is downloaded).

    python benchmarks/report_screenshot.py runs/demo/report.html docs/report.png

takes the top of the page at laptop width (1280 x 1600 CSS px). The tests open reports with the
same browser setup (:func:`open_page`).
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
"""A browser that talks to nothing on its own (no updates, sync or first-run pages)."""
LAPTOP = (1280, 1600)
"""Viewport (CSS px) of the README's screenshot: laptop width, the top of the page."""


@contextlib.contextmanager
def open_page(width: int, height: int) -> Iterator:
    """A Playwright page of Debian's Chromium with a fresh profile, ``width`` x ``height`` CSS
    px; closed (and its profile removed) on exit."""
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as profile, sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": width, "height": height})
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def screenshot(page_path: Path, png: Path, size: tuple[int, int] = LAPTOP) -> Path:
    """The visible top of the page at ``page_path`` as a PNG at ``png``."""
    with open_page(*size) as page:
        page.goto(page_path.resolve().as_uri(), wait_until="load")
        page.screenshot(path=str(png))
    return png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path, help="the report's HTML file")
    parser.add_argument("png", type=Path, help="the screenshot to write")
    args = parser.parse_args()
    print(screenshot(args.report, args.png))


if __name__ == "__main__":
    main()
