"""One self-contained HTML page from run folders (``deepmouse report``).

Each run folder written by :func:`deepmouse.pipeline.train_run` holds its figures' data
(``history.csv``, ``metrics.json``, ``config.json``); the page redraws the learning curves and
confusion matrices from that data, embeds them as PNG data URIs and adds a table comparing the
runs. Nothing is fetched from the network: the page opens offline.
"""

from __future__ import annotations

import base64
import csv
import html
import json
import tempfile
from pathlib import Path

from deepmouse.atomic import write_atomic
from deepmouse.jsonio import loads_strict
from deepmouse.recordings import DataError

RUN_FILES = ("metrics.json", "config.json", "history.csv")


def read_run(folder: str | Path) -> dict:
    """The data of one run folder: ``{"name", "metrics", "config", "history"}``."""
    folder = Path(folder)
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder}: not a run folder (missing {', '.join(missing)})")
    try:
        metrics = loads_strict((folder / "metrics.json").read_bytes())
        config = loads_strict((folder / "config.json").read_bytes())
    except (ValueError, RecursionError) as exc:
        raise DataError(f"{folder}: corrupt run file ({exc})") from None
    try:
        with open(folder / "history.csv", newline="", encoding="utf-8") as fh:
            history = [
                {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
                for row in csv.DictReader(fh)
            ]
    except (ValueError, TypeError) as exc:  # a cell that is not a number, a short row
        raise DataError(f"{folder / 'history.csv'}: corrupt run file ({exc})") from None
    return {"name": str(folder), "metrics": metrics, "config": config, "history": history}


def _png_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def _fmt(value) -> str:
    if value is None:
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else html.escape(str(value))


def _metrics_rows(run: dict) -> str:
    m = run["metrics"]
    rows = []
    for key in ("accuracy", "roc_auc", "loss", "n_windows"):
        rows.append(f"<tr><td>{key}</td><td>{_fmt(m['dev'][key])}</td>"
                    f"<td>{_fmt(m['test'][key])}</td></tr>")
    for h, value in m["test"]["decision_accuracy"].items():
        rows.append(f"<tr><td>decision after {h} s</td>"
                    f"<td>{_fmt(m['dev']['decision_accuracy'][h])}</td><td>{_fmt(value)}</td></tr>")
    return "\n".join(rows)


def build_report(
    run_folders: list[str | Path], out: str | Path, title: str = "deepmouse report"
) -> Path:
    """Write one HTML page comparing ``run_folders``; returns its path.

    Raises:
        DataError: a folder that is not a complete run folder.
    """
    from deepmouse.plots import plot_confusion, plot_curves

    if not run_folders:
        raise DataError("give at least one run folder")
    runs = [read_run(f) for f in run_folders]
    sections, summary = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i, run in enumerate(runs):
            m = run["metrics"]
            figures = []
            if run["history"]:
                curves = plot_curves(run["history"], Path(tmp) / f"c{i}.png", m.get("best_epoch"))
                figures.append(f'<img alt="learning curves" src="{_png_uri(curves)}">')
            confusion = plot_confusion(m["test"]["confusion"], Path(tmp) / f"m{i}.png", "test")
            figures.append(f'<img alt="confusion matrix" src="{_png_uri(confusion)}">')
            name = html.escape(run["name"])
            config = run["config"]  # run folders of older versions name it "model"
            family = config.get("family", config.get("resolved_params", {}).get("model"))
            summary.append(
                f"<tr><td><a href='#run{i}'>{name}</a></td><td>{_fmt(family)}</td>"
                f"<td>{_fmt(m.get('split'))}</td><td>{_fmt(m['dev']['accuracy'])}</td>"
                f"<td>{_fmt(m['test']['accuracy'])}</td>"
                f"<td>{_fmt(m['test']['decision_accuracy'].get('10'))}</td>"
                f"<td>{_fmt(m.get('train_seconds'))}</td></tr>"
            )
            notes = m.get("warnings", [])
            warnings = "".join(f"<p class='warn'>{html.escape(w)}</p>" for w in notes)
            config_json = html.escape(json.dumps(run["config"], indent=2))
            sections.append(f"""
<section id="run{i}">
<h2>{name}</h2>
{warnings}
<table><tr><th>metric</th><th>dev</th><th>test</th></tr>
{_metrics_rows(run)}
</table>
<p>{''.join(figures)}</p>
<details><summary>configuration</summary><pre>{config_json}</pre></details>
</section>""")
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: .3em .7em; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
img {{ max-width: 48%; margin-right: 1%; }}
.warn {{ color: #a15c00; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Test figures are from the held-out test split, scored once after training; the kept epoch
was chosen on dev.</p>
<table><tr><th>run</th><th>family</th><th>split</th><th>dev accuracy</th><th>test accuracy</th>
<th>test decision after 10 s</th><th>training seconds</th></tr>
{''.join(summary)}
</table>
{''.join(sections)}
</body></html>
"""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, page)
    return out
