"""The report document: an ordered list of blocks (headings, paragraphs, tables, figures)
rendered twice, as markdown and as one self-contained HTML file with its figures inline."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

MODEL_ORDER = (
    "hybrid",
    "transformer",
    "logistic",
    "scorecard",
    "lightgbm",
    "catboost",
    "kernel",
    "blend",
    "blend_stacked",
)
COLORS = {
    "hybrid": "#000000",
    "scorecard": "#8c564b",
    "catboost": "#e377c2",
    "transformer": "#1f77b4",
    "logistic": "#7f7f7f",
    "lightgbm": "#2ca02c",
    "kernel": "#ff7f0e",
    "blend": "#d62728",
    "blend_stacked": "#9467bd",
}
HEADLINE = (("auc", "AUC"), ("gini", "Gini"), ("ks", "KS"), ("pr_auc", "PR-AUC"), ("brier", "Brier"))
HEADLINE += (("log_loss", "log loss"), ("ece", "ECE"))
ROWS = {
    "train": "rows of the held-out test split",
    "cv": "rows, each scored out of fold by models that never saw it",
    "evaluate": "rows of the evaluated file",
}
CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{border-bottom:2px solid #1f77b4}h2{margin-top:2em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:3px 9px;text-align:right}
th{background:#f2f5f9}td:first-child,th:first-child{text-align:left}tr.flag td{background:#fde2e1}
img{max-width:100%;height:auto}.wide{overflow-x:auto}.note{color:#555}"""


class Report:
    """An ordered list of blocks rendered twice: as markdown and as standalone HTML."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.blocks: list[tuple[str, Any]] = []
        self.figures: dict[str, bytes] = {}

    def heading(self, text: str) -> None:
        self.blocks.append(("h2", text))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, rows: list[dict[str, Any]], flag: Callable[[dict], bool] | None = None) -> None:
        if rows:
            self.blocks.append(("table", (rows, flag)))

    def figure(self, fig: Figure, name: str, alt: str) -> None:
        buffer = io.BytesIO()
        FigureCanvasAgg(fig)
        fig.tight_layout()
        fig.savefig(buffer, format="png", dpi=96)
        self.figures[f"{name}.png"] = buffer.getvalue()
        self.blocks.append(("img", (f"{name}.png", alt)))

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        for kind, value in self.blocks:
            if kind == "h2":
                out += [f"## {value}", ""]
            elif kind == "p":
                out += [value, ""]
            elif kind == "img":
                out += [f"![{value[1]}](figures/{value[0]})", ""]
            else:
                rows, flag = value
                cols = list(rows[0])
                out.append("| " + " | ".join(cols) + " |")
                out.append("|" + "---|" * len(cols))
                for row in rows:
                    mark = "⚠ " if flag and flag(row) else ""
                    cells = (fmt(row.get(c)).replace("|", "\\|") for c in cols)
                    out.append("| " + mark + " | ".join(cells) + " |")
                out.append("")
        return "\n".join(out)

    def html(self) -> str:
        esc = html.escape
        out = [f"<!doctype html><html><head><meta charset='utf-8'><title>{esc(self.title)}</title>"]
        out.append(f"<style>{CSS}</style></head><body><h1>{esc(self.title)}</h1>")
        for kind, value in self.blocks:
            if kind == "h2":
                out.append(f"<h2>{esc(value)}</h2>")
            elif kind == "p":
                out.append(f"<p class='note'>{esc(value)}</p>")
            elif kind == "img":
                data = base64.b64encode(self.figures[value[0]]).decode("ascii")
                out.append(f"<img alt='{esc(value[1])}' src='data:image/png;base64,{data}'>")
            else:
                rows, flag = value
                cols = list(rows[0])
                out.append(
                    "<div class='wide'><table><tr>" + "".join(f"<th>{esc(c)}</th>" for c in cols) + "</tr>"
                )
                for row in rows:
                    css = " class='flag'" if flag and flag(row) else ""
                    cells = "".join(f"<td>{esc(fmt(row.get(c)))}</td>" for c in cols)
                    out.append(f"<tr{css}>{cells}</tr>")
                out.append("</table></div>")
        out.append("</body></html>")
        return "\n".join(out)


def fmt(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, (float, np.floating)):
        return (
            f"{value:,.0f}" if abs(value) >= 1e4 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.4f}"
        )
    if isinstance(value, (list, tuple)):
        return ", ".join(fmt(v) for v in value)
    return str(value)


def models_in_order(named: dict[str, Any]) -> list[str]:
    return sorted(named, key=lambda n: (MODEL_ORDER.index(n) if n in MODEL_ORDER else len(MODEL_ORDER), n))


def figure(width: float = 6.4, height: float = 4.2) -> tuple[Figure, Any]:
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    fig = Figure(figsize=(width, height))
    ax = fig.add_subplot()
    for axis in (ax.xaxis, ax.yaxis):  # short tick labels even when PDs span a tiny range
        axis.set_major_locator(MaxNLocator(6))
        axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.4g}"))
    return fig, ax
