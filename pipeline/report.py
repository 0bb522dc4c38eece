"""The Markdown and HTML reports of a theme summary.

The HTML report is one file that opens anywhere: styles and charts (SVG) inline,
no script and no network, and a content security policy that forbids both. All
text that comes from letters is escaped, so a finding cannot inject markup.
"""

from __future__ import annotations

import re
from html import escape
from typing import Iterator, Sequence

from .summarise import describe_filters

JUDGEMENT_COLOURS = [("strength", "Strength", "#2e7d32"),
                     ("meets_requirements", "Meets requirements", "#1565c0"),
                     ("development", "Development", "#ef6c00"),
                     ("priority_action", "Priority action", "#c62828"),
                     ("neutral", "Neutral", "#9e9e9e")]
MAX_HEATMAP_ROWS = 60


def _e(value) -> str:
    return escape("" if value is None else str(value), quote=True)


def _pieces(text: str, spans: Sequence[dict]) -> Iterator[tuple[str, list[str] | None]]:
    """The text cut at its evidence: (piece, rule ids) for a marked piece, (piece, None)
    between them. Spans that overlap or touch are marked as one piece covering them all
    (the words of "management oversight" and of "front line management" both show, and
    Markdown gets no "****"); a span outside the text is left out."""
    marks: list[list] = []   # [start, end, rules]
    for span in sorted(spans, key=lambda s: (int(s.get("start", 0)), -int(s.get("end", 0)))):
        start, end = int(span.get("start", 0)), int(span.get("end", 0))
        if not 0 <= start < end <= len(text):
            continue
        rule = str(span.get("rule"))
        if marks and start <= marks[-1][1]:
            marks[-1][1] = max(marks[-1][1], end)
            if rule not in marks[-1][2]:
                marks[-1][2].append(rule)
            continue
        marks.append([start, end, [rule]])
    at = 0
    for start, end, rules in marks:
        yield text[at:start], None
        yield text[start:end], rules
        at = end
    yield text[at:], None


def highlight(text: str, spans: Sequence[dict]) -> str:
    """The finding as HTML with its evidence spans in <mark>, everything escaped."""
    return "".join(f'<mark title="{_e(", ".join(rules))}">{_e(piece)}</mark>' if rules else _e(piece)
                   for piece, rules in _pieces(text, spans))


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#!|~])")


def _md(text) -> str:
    """Text that Markdown shows as written: no markup, links, images or HTML from letters."""
    text = "" if text is None else str(text)
    text = re.sub(r"\s+", " ", text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_highlight(text: str, spans: Sequence[dict]) -> str:
    """The finding as Markdown with its evidence spans in bold (white space at a span's
    edges stays outside the asterisks, where Markdown needs it)."""
    out = []
    for piece, rules in _pieces(text, spans):
        if rules and piece.strip():
            core = piece.strip()
            at = piece.index(core)
            out.append(_md(piece[:at]) + "**" + _md(core) + "**" + _md(piece[at + len(core):]))
        else:
            out.append(_md(piece))
    return "".join(out)


def render_markdown(summary, source: str) -> str:
    tax = summary.taxonomy
    lines = ["# Theme summary", "",
             f"{summary.headline()} in {_md(source)}.",
             f"Filters: {_md(describe_filters(summary.filters))}.", "",
             "## Findings per theme, by judgement", "",
             "| theme | strength | meets requirements | development | priority action | neutral | "
             "findings | letters | share of letters |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in summary.themes:
        lines.append(f"| {_md(row['name'])} | {row['strength']} | {row['meets_requirements']} | "
                     f"{row['development']} | {row['priority_action']} | {row['neutral']} | "
                     f"{row['findings']} | {row['letters']} | {row['share_of_letters']:.0%} |")
    for title, rows, key in (("Findings per local authority and theme", summary.authority_theme, "authority"),
                             ("Findings per year and theme", summary.year_theme, "year")):
        lines += ["", f"## {title}", "",
                  f"| {key} | letters | findings | " + " | ".join(_md(t) for t in tax.ids) + " |",
                  "|---|---:|---:|" + "---:|" * len(tax.ids)]
        for row in rows:
            lines.append(f"| {_md(row[key])} | {row['letters']} | {row['findings']} | "
                         + " | ".join(str(row[t]) for t in tax.ids) + " |")
    lines += ["", "## Typical findings per theme", "",
              "The findings each theme is most surely about (highest score; one per letter), "
              "with the evidence in bold.", ""]
    for theme in tax.ids:
        rows = [r for r in summary.typical_findings if r["theme"] == theme]
        lines.append(f"### {_md(tax.name(theme))}")
        lines.append("")
        if not rows:
            lines += ["No findings.", ""]
            continue
        for r in rows:
            where = ", ".join(_md(x) for x in (r["authority"], r["letter_date"], r["judgement"]) if x)
            lines.append(f"- {_md_highlight(r['text'] or '', r['_spans'])} ({where}; {_md(r['id'])})")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------- HTML

def chart_by_judgement(summary) -> str:
    rows = summary.themes
    width, label_w, bar_w, row_h = 900, 300, 520, 22
    top = 30
    height = top + row_h * len(rows) + 10
    biggest = max([r["findings"] for r in rows] + [1])
    parts = [f'<svg class="chart" id="chart-judgement" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             "<title>Findings per theme by judgement</title>"]
    x = label_w
    for key, name, colour in JUDGEMENT_COLOURS:
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="14" class="small">{_e(name)}</text>')
        x += 16 + 8 * len(name) + 14
    for i, row in enumerate(rows):
        y = top + i * row_h
        parts.append(f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(row["name"])}</text>')
        x = float(label_w)
        for key, name, colour in JUDGEMENT_COLOURS:
            value = row[key]
            if not value:
                continue
            w = bar_w * value / biggest
            parts.append(f'<rect class="bar" x="{x:.1f}" y="{y + 3}" width="{max(w, 0.5):.1f}" height="{row_h - 6}" '
                         f'fill="{colour}"><title>{_e(row["name"])}: {value} {_e(name.lower())}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 15}" class="small">{row["findings"]}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _shade(share: float) -> str:
    """White to dark blue."""
    share = max(0.0, min(1.0, share))
    r = int(247 - share * (247 - 8))
    g = int(251 - share * (251 - 48))
    b = int(255 - share * (255 - 107))
    return f"rgb({r},{g},{b})"


def chart_heatmap(summary) -> tuple[str, str]:
    """Authorities x themes: the share of each authority's findings tagged with the theme."""
    tax = summary.taxonomy
    rows = sorted(summary.authority_theme, key=lambda r: (-r["findings"], r["authority"]))
    note = ""
    if len(rows) > MAX_HEATMAP_ROWS:
        note = (f"The {MAX_HEATMAP_ROWS} authorities with most findings of {len(rows)}; "
                "every authority is in the table below.")
        rows = rows[:MAX_HEATMAP_ROWS]
    rows = sorted(rows, key=lambda r: r["authority"])
    # room for the theme names written whole, slanted up to the right (about 5.6 px a
    # character at this size; sin and cos of 55 degrees)
    longest = max([len(tax.name(t)) for t in tax.ids] + [1]) * 5.6
    label_w, cell, top = 260, 34, 20 + int(longest * 0.82)
    width = label_w + cell * len(tax.ids) + 10 + int(longest * 0.58)
    height = top + cell * len(rows) + 10
    parts = [f'<svg class="chart" id="chart-heatmap" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             "<title>Share of each authority's findings per theme</title>"]
    for j, theme in enumerate(tax.ids):
        x = label_w + j * cell + cell / 2
        parts.append(f'<text x="{x:.0f}" y="{top - 6}" transform="rotate(-55 {x:.0f} {top - 6})" '
                     f'class="small">{_e(tax.name(theme))}</text>')
    for i, row in enumerate(rows):
        y = top + i * cell
        parts.append(f'<text x="{label_w - 8}" y="{y + cell / 2 + 4:.0f}" text-anchor="end">'
                     f'{_e(row["authority"])}</text>')
        for j, theme in enumerate(tax.ids):
            share = row[theme] / row["findings"] if row["findings"] else 0.0
            parts.append(f'<rect class="cell" x="{label_w + j * cell}" y="{y}" width="{cell - 2}" '
                         f'height="{cell - 2}" fill="{_shade(share * 2.5)}"><title>{_e(row["authority"])}, '
                         f'{_e(tax.name(theme))}: {row[theme]} of {row["findings"]} findings '
                         f'({share:.0%})</title></rect>')
            if row[theme]:
                # a class, not a fill attribute: the style sheet's "svg text" rule would win
                dark = " on-dark" if share * 2.5 > 0.55 else ""
                parts.append(f'<text x="{label_w + j * cell + (cell - 2) / 2:.0f}" y="{y + cell / 2 + 4:.0f}" '
                             f'text-anchor="middle" class="small{dark}">{row[theme]}</text>')
    parts.append("</svg>")
    return "".join(parts), note


def chart_over_time(summary) -> str:
    """Per theme, a small bar chart: the share of each year's letters that cite it."""
    tax = summary.taxonomy
    letters_by_year, citing = summary.letters_by_year, summary.citing
    # a time axis: every year from the first to the last (undated letters are left out)
    years = sorted(int(y) for y in letters_by_year if y.isdigit())
    labels = [str(y) for y in range(years[0], years[-1] + 1)] if years else []
    panel_w, panel_h, cols = 210, 120, 4
    rows_n = (len(tax.ids) + cols - 1) // cols
    width, height = panel_w * cols + 10, panel_h * rows_n + 10
    parts = [f'<svg class="chart" id="chart-time" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">',
             "<title>Share of letters citing each theme, by year</title>"]
    for k, theme in enumerate(tax.ids):
        px, py = (k % cols) * panel_w + 10, (k // cols) * panel_h + 4
        name = tax.name(theme)
        shown = name if len(name) <= 31 else name[:30].rstrip(" ,") + "…"
        # a long title is squeezed into its panel rather than running into the next one
        fit = f' textLength="{panel_w - 16}" lengthAdjust="spacingAndGlyphs"' if len(shown) > 29 else ""
        parts.append(f'<text x="{px}" y="{py + 12}" class="small strong"{fit}>{_e(shown)}'
                     f'<title>{_e(name)}</title></text>')
        base, plot_h, plot_w = py + panel_h - 24, panel_h - 46, panel_w - 30
        parts.append(f'<line x1="{px}" y1="{base}" x2="{px + plot_w}" y2="{base}" stroke="#999"/>')
        n = max(len(labels), 1)
        bw = plot_w / n
        for i, year in enumerate(labels):
            total = letters_by_year.get(year, 0)
            if not total:
                continue   # no letter that year: no bar, unlike a share of 0%
            share = citing.get((year, theme), 0) / total
            h = plot_h * share
            parts.append(f'<rect class="bar" x="{px + i * bw + 1:.1f}" y="{base - h:.1f}" '
                         f'width="{max(bw - 2, 1):.1f}" height="{max(h, 0.5):.1f}" fill="#1565c0">'
                         f'<title>{_e(tax.name(theme))}, {_e(year)}: {share:.0%} of {total} letters</title></rect>')
        if labels:
            parts.append(f'<text x="{px}" y="{base + 14}" class="small">{_e(labels[0])}</text>')
            if len(labels) > 1:
                parts.append(f'<text x="{px + plot_w}" y="{base + 14}" text-anchor="end" class="small">'
                             f'{_e(labels[-1])}</text>')
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;margin:2rem auto;max-width:1100px;
color:#222;line-height:1.45;padding:0 1rem}
h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2.2rem;border-bottom:1px solid #ddd}
h3{font-size:1.05rem;margin-bottom:.3rem}
table{border-collapse:collapse;font-size:.85rem;margin:.6rem 0}
th,td{border:1px solid #ddd;padding:.2rem .45rem;text-align:right}th{background:#f3f5f8}
td:first-child,th:first-child{text-align:left}
svg text{font-size:12px;fill:#222}svg .small{font-size:10.5px}svg .strong{font-weight:600}
svg text.on-dark{fill:#fff}
mark{background:#ffe08a;padding:0 .1em}
.finding{margin:.35rem 0 .6rem;padding:.4rem .6rem;border-left:3px solid #1565c0;background:#fafbfc}
.meta{color:#666;font-size:.8rem}.note{color:#666;font-size:.85rem}
.scroll{overflow-x:auto}
summary{cursor:pointer;color:#1565c0;margin:.4rem 0}
"""


def _cross_table_html(rows: list[dict], key: str, tax, table_id: str) -> str:
    """A per-authority or per-year table, as in the Markdown report and the CSV."""
    head = "".join(f'<th title="{_e(tax.name(t))}">{_e(t)}</th>' for t in tax.ids)
    body = "".join(f"<tr><td>{_e(row[key])}</td><td>{row['letters']}</td><td>{row['findings']}</td>"
                   + "".join(f"<td>{row[t]}</td>" for t in tax.ids) + "</tr>" for row in rows)
    return (f'<div class="scroll"><table id="{table_id}"><thead><tr><th>{_e(key)}</th><th>letters</th>'
            f"<th>findings</th>{head}</tr></thead><tbody>{body}</tbody></table></div>")


def render_html(summary, source: str) -> str:
    tax = summary.taxonomy
    heatmap, heat_note = chart_heatmap(summary)
    theme_rows = "".join(
        f"<tr><td>{_e(r['name'])}</td><td>{r['strength']}</td><td>{r['meets_requirements']}</td>"
        f"<td>{r['development']}</td><td>{r['priority_action']}</td><td>{r['neutral']}</td>"
        f"<td>{r['findings']}</td><td>{r['letters']}</td><td>{r['share_of_letters']:.0%}</td></tr>"
        for r in summary.themes)
    typical = []
    for theme in tax.ids:
        rows = [r for r in summary.typical_findings if r["theme"] == theme]
        typical.append(f'<h3 id="theme-{_e(theme)}">{_e(tax.name(theme))}</h3>')
        if not rows:
            typical.append('<p class="note">No findings.</p>')
        for r in rows:
            meta = " · ".join(_e(x) for x in (r["authority"], r["letter_date"], r["judgement"],
                                               f"score {r['score']:.2f}", r["id"]) if x)
            typical.append(f'<div class="finding"><div>{highlight(r["text"] or "", r["_spans"])}</div>'
                           f'<div class="meta">{meta}</div></div>')
    filters = _e(describe_filters(summary.filters))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Safeguarding themes: summary</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Safeguarding themes in inspection findings</h1>
<p>{_e(summary.headline())} in <code>{_e(source)}</code>.
Filters: {filters}. Themes as defined in <code>{_e(tax.path)}</code>.</p>

<h2>Findings per theme, by judgement</h2>
<div class="scroll">{chart_by_judgement(summary)}</div>
<table id="table-themes"><thead><tr><th>theme</th><th>strength</th><th>meets requirements</th>
<th>development</th><th>priority action</th><th>neutral</th><th>findings</th><th>letters</th>
<th>share of letters</th></tr></thead><tbody>{theme_rows}</tbody></table>

<h2>Local authorities and themes</h2>
<p class="note">Each cell: the authority's findings tagged with the theme (darker: a larger share of
its findings). {_e(heat_note)}</p>
<div class="scroll">{heatmap}</div>
<details><summary>Findings per local authority and theme: the table</summary>
{_cross_table_html(summary.authority_theme, "authority", tax, "table-authority")}</details>

<h2>Themes over time</h2>
<p class="note">For each theme, the share of each year's letters with at least one finding on it
(no bar: no letter that year; a sliver: 0%).</p>
<div class="scroll">{chart_over_time(summary)}</div>
<details><summary>Findings per year and theme: the table</summary>
{_cross_table_html(summary.year_theme, "year", tax, "table-year")}</details>

<h2>Typical findings per theme</h2>
<p class="note">The findings each theme is most surely about (highest score, one per letter), with the
words that gave the theme highlighted.</p>
{"".join(typical)}
</body>
</html>
"""
