"""The evaluation report as markdown (figures as files beside it) and self-contained HTML."""

from __future__ import annotations

import base64
import html
import io
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from matplotlib.figure import Figure

FIGURE_DPI = 110
MISSING_CELL = "\N{EN DASH}"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif;
       color: #1f2933; max-width: 1100px; margin: 2rem auto; padding: 0 1.25rem;
       line-height: 1.5; background: #fff; }
h1 { font-size: 1.7rem; border-bottom: 2px solid #e4e7eb; padding-bottom: .4rem; }
h2 { font-size: 1.3rem; margin-top: 2.2rem; border-bottom: 1px solid #e4e7eb;
     padding-bottom: .25rem; }
nav ol { margin: .3rem 0 1rem; padding-left: 1.4rem; font-size: .92rem; }
nav a, nav a:visited { color: #2463b4; text-decoration: none; }
code { background: #f1f3f5; padding: .05rem .3rem; border-radius: 3px; font-size: .9em; }
.table-wrap { overflow-x: auto; margin: .6rem 0 1.4rem; }
table { border-collapse: collapse; font-size: .86rem; font-variant-numeric: tabular-nums; }
caption { caption-side: top; text-align: left; font-weight: 600; padding: .3rem 0; }
th, td { padding: .3rem .65rem; border-bottom: 1px solid #e4e7eb; white-space: nowrap; }
th { background: #f5f7fa; text-align: left; border-bottom: 2px solid #cbd2d9; }
td.num, th.num { text-align: right; }
tbody tr:nth-child(even) { background: #fafbfc; }
tbody tr:hover { background: #eef4fb; }
figure { margin: 1rem 0 1.8rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #e4e7eb; border-radius: 4px; }
figcaption { font-size: .9rem; color: #52606d; margin-top: .3rem; }
"""


@dataclass(frozen=True)
class ReportSection:
    """One heading with its paragraphs, captioned tables and captioned figures."""

    heading: str
    text: str = ""
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)
    figures: list[tuple[str, Figure]] = field(default_factory=list)


def figure_to_png(fig: Figure, dpi: int = FIGURE_DPI) -> bytes:
    """Render a matplotlib Figure to PNG bytes (Agg, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    if not isinstance(fig.canvas, FigureCanvasAgg):
        FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return buffer.getvalue()


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:60].rstrip("-") or "figure"


def figure_filenames(sections: Sequence[ReportSection]) -> list[list[str]]:
    """Unique PNG file name of every figure, per section (used by markdown and save_figures)."""
    seen: set[str] = set()
    names: list[list[str]] = []
    for number, section in enumerate(sections, start=1):
        section_names = []
        for caption, _ in section.figures:
            base = f"{number:02d}-{_slug(caption)}"
            name, suffix = f"{base}.png", 2
            while name in seen:
                name, suffix = f"{base}-{suffix}.png", suffix + 1
            seen.add(name)
            section_names.append(name)
        names.append(section_names)
    return names


def save_figures(sections: Sequence[ReportSection], folder: Path | str) -> list[Path]:
    """Write every figure as PNG into ``folder`` under the names the markdown refers to."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    paths = []
    for section, names in zip(sections, figure_filenames(sections), strict=True):
        for (_, fig), name in zip(section.figures, names, strict=True):
            path = target / name
            path.write_bytes(figure_to_png(fig))
            paths.append(path)
    return paths


def write_report(
    title: str, sections: Sequence[ReportSection], folder: Path | str, stem: str = "report"
) -> list[Path]:
    """Write ``{stem}.md``, ``{stem}.html`` and the figure PNGs into ``folder``; return paths."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    markdown, page = render_report(title, sections)
    md_path, html_path = target / f"{stem}.md", target / f"{stem}.html"
    md_path.write_text(markdown, encoding="utf-8")
    html_path.write_text(page, encoding="utf-8")
    return [md_path, html_path, *save_figures(sections, target)]


# --------------------------------------------------------------------------- cells and tables


def format_cell(value: object) -> str:
    """Human-readable table cell: thousands separators, 4 significant digits, dash if missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return MISSING_CELL
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return MISSING_CELL
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        if abs(number) >= 10_000 or (number.is_integer() and abs(number) >= 1_000):
            return f"{number:,.0f}"
        return f"{number:.4g}"
    if isinstance(value, pd.Timestamp | datetime | date):
        return str(value)
    return str(value)


def _table_cells(table: pd.DataFrame) -> tuple[list[str], list[list[str]], list[bool]]:
    """Header, formatted rows and which columns are numeric (index kept if meaningful)."""
    frame = table if isinstance(table.index, pd.RangeIndex) else table.reset_index()
    header = [str(c) for c in frame.columns]
    numeric = [
        pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        for c in frame.columns
    ]
    rows = [[format_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    return header, rows, numeric


def _markdown_table(table: pd.DataFrame) -> str:
    header, rows, numeric = _table_cells(table)

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|").replace("\n", " ") for c in cells) + " |"

    rule = "|" + "|".join("---:" if num else "---" for num in numeric) + "|"
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _html_table(caption: str, table: pd.DataFrame) -> str:
    header, rows, numeric = _table_cells(table)

    def cls(i: int) -> str:
        return ' class="num"' if numeric[i] else ""

    parts = ['<div class="table-wrap"><table>']
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append(
        "<thead><tr>"
        + "".join(f"<th{cls(i)}>{html.escape(h)}</th>" for i, h in enumerate(header))
        + "</tr></thead><tbody>"
    )
    for row in rows:
        parts.append(
            "<tr>"
            + "".join(f"<td{cls(i)}>{html.escape(c)}</td>" for i, c in enumerate(row))
            + "</tr>"
        )
    parts.append("</tbody></table></div>")
    return "".join(parts)


# --------------------------------------------------------------------------- text


def _paragraphs(text: str) -> list[list[str]]:
    blocks = re.split(r"\n\s*\n", text.strip())
    return [[ln.strip() for ln in block.splitlines() if ln.strip()] for block in blocks if block]


def _inline_html(text: str) -> str:
    escaped = html.escape(text)
    escaped = re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)
    escaped = re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", escaped)
    return escaped


def _text_html(text: str) -> str:
    """Paragraphs separated by blank lines; blocks of ``- `` lines become bullet lists."""
    parts = []
    for lines in _paragraphs(text):
        if all(ln.startswith(("- ", "* ")) for ln in lines):
            items = "".join(f"<li>{_inline_html(ln[2:])}</li>" for ln in lines)
            parts.append(f"<ul>{items}</ul>")
        else:
            parts.append(f"<p>{_inline_html(' '.join(lines))}</p>")
    return "\n".join(parts)


# --------------------------------------------------------------------------- rendering


def _render_markdown(
    title: str, sections: Sequence[ReportSection], filenames: list[list[str]]
) -> str:
    out = [f"# {title}", ""]
    for section, names in zip(sections, filenames, strict=True):
        out += [f"## {section.heading}", ""]
        if section.text.strip():
            out += [section.text.strip(), ""]
        for caption, table in section.tables:
            if caption:
                out += [f"**{caption}**", ""]
            out += [_markdown_table(table), ""]
        for (caption, _), name in zip(section.figures, names, strict=True):
            out += [f"![{caption}]({name})", ""]
            if caption:
                out += [f"*{caption}*", ""]
    return "\n".join(out).rstrip() + "\n"


def _render_html(title: str, sections: Sequence[ReportSection]) -> str:
    anchors = [f"s{number}-{_slug(s.heading)}" for number, s in enumerate(sections, start=1)]
    body = [f"<h1>{html.escape(title)}</h1>"]
    if len(sections) > 1:
        links = "".join(
            f'<li><a href="#{anchor}">{html.escape(s.heading)}</a></li>'
            for anchor, s in zip(anchors, sections, strict=True)
        )
        body.append(f"<nav><ol>{links}</ol></nav>")
    for anchor, section in zip(anchors, sections, strict=True):
        body.append(f'<section id="{anchor}"><h2>{html.escape(section.heading)}</h2>')
        if section.text.strip():
            body.append(_text_html(section.text))
        body += [_html_table(caption, table) for caption, table in section.tables]
        for caption, fig in section.figures:
            encoded = base64.b64encode(figure_to_png(fig)).decode("ascii")
            alt = html.escape(caption, quote=True)
            body.append(
                f'<figure><img src="data:image/png;base64,{encoded}" alt="{alt}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n"
        + "\n".join(body)
        + "\n</body></html>\n"
    )


def render_report(title: str, sections: Sequence[ReportSection]) -> tuple[str, str]:
    """Return (markdown, html): markdown links figures by file name (see save_figures);
    the HTML is self-contained with figures embedded as base64 PNG."""
    return (
        _render_markdown(title, sections, figure_filenames(sections)),
        _render_html(title, sections),
    )
