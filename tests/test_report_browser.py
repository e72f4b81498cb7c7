"""The report in a real browser (headless Chromium): every figure decodes, nothing is fetched
from the network, no script error, and the layout fits a phone (390 px) and a laptop (1280 px).
The checker itself is shown to catch pages that break each of these."""

from __future__ import annotations

import pytest
from browser import check_page, require_browser

from deepmouse.report import build_report

WIDTHS = (390, 1280)


@pytest.fixture(autouse=True)
def _browser():
    require_browser()


def test_report_of_a_run_and_a_sweep_renders_offline_at_phone_and_laptop_width(
        tiny_run, tiny_sweep, tmp_path):
    page = build_report([tiny_run.out, tiny_sweep], tmp_path / "report.html")
    check = check_page(page, WIDTHS, screenshot=tmp_path / "report.png")
    assert check.problems() == []
    # six figures of the run, sweep_grid.png and sweep.png of the sweep, every one decoded
    assert check.img_tags == len(check.images) == 8
    assert all(image["width"] >= 300 for image in check.images)
    assert check.requests == [check.url]  # the page itself; data: images are no request
    assert set(check.widths) == set(WIDTHS)
    png = check.screenshot.read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000  # a page of figures, not a blank


BAD_PAGES = {
    "request left the page": '<img src="http://127.0.0.1:9/figure.png" alt="a figure from afar">',
    "image not decoded": '<img src="data:image/png;base64,AAAA" alt="a figure that is broken">',
    "image without alt text": '<img src="{png}" alt="">',
    "wider than the window at 390 px": '<div style="width: 2000px">a wide banner</div>',
    "page error": "<script>null.field = 1;</script>",
    "console error": "<script>console.error('something failed');</script>",
}


@pytest.mark.parametrize("problem", sorted(BAD_PAGES))
def test_the_check_catches_a_bad_page(problem, tmp_path):
    import base64

    from deepmouse.plots import plot_confusion

    png = base64.b64encode(plot_confusion([[1, 2], [3, 4]], tmp_path / "m.png").read_bytes())
    good = f'<img src="data:image/png;base64,{png.decode()}" alt="a small confusion matrix">'
    body = BAD_PAGES[problem].replace("{png}", f"data:image/png;base64,{png.decode()}")
    page = tmp_path / "bad.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>bad</title>"
                    f"</head><body>{good}{body}</body></html>")
    problems = check_page(page, WIDTHS).problems()
    assert any(p.startswith(problem) for p in problems), problems


def test_the_check_passes_the_same_page_without_the_fault(tmp_path):
    import base64

    from deepmouse.plots import plot_confusion
    png = base64.b64encode(plot_confusion([[1, 2], [3, 4]], tmp_path / "m.png").read_bytes())
    page = tmp_path / "good.html"
    page.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>good</title>"
                    f"</head><body><img src='data:image/png;base64,{png.decode()}' "
                    "alt='a small confusion matrix' style='max-width: 100%'></body></html>")
    check = check_page(page, WIDTHS)
    assert check.problems() == [] and check.images[0]["width"] > 0
