"""Theme summaries: the tables' counts against the tagged file, the XLSX, the
filters, and the HTML report in a real browser (headless Chromium)."""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path

import pytest

from conftest import CORPUS, REPO, SEED_FILES
from pipeline.cli import app

THEMES = ["--themes", str(REPO / "labels" / "themes.yaml")]
RULES = ["--method", "rules", "--quiet", "--patterns", str(REPO / "labels" / "patterns.jsonl")] + THEMES
TABLES = ["themes", "authority_theme", "year_theme", "typical_findings"]


@pytest.fixture(scope="module")
def seeds_summary(tmp_path_factory):
    """The seeds tagged by the rules (so that no model is needed) and summarised."""
    from typer.testing import CliRunner

    runner = CliRunner()
    tmp = tmp_path_factory.mktemp("summary")
    tagged = tmp / "tagged.jsonl"
    result = runner.invoke(app, ["tag", *map(str, SEED_FILES.values()), "--out", str(tagged)] + RULES)
    assert result.exit_code == 0, result.output
    out = tmp / "summary"
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(out), "--params",
                                 str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 0, result.output
    return tagged, out


def read_csv(path: Path) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_the_tables_count_what_the_tagged_file_holds(seeds_summary):
    tagged, out = seeds_summary
    records = [json.loads(line) for line in tagged.read_text(encoding="utf-8").splitlines()]
    letters = {r["letter_id"] for r in records}
    by_theme = Counter((t, r["judgement"]) for r in records for t in r["themes"])
    letters_with = {t: {r["letter_id"] for r in records if t in r["themes"]}
                    for r in records for t in r["themes"]}

    rows = read_csv(out / "themes.csv")
    assert len(rows) == 17
    for row in rows:
        theme = row["theme"]
        for judgement in ("strength", "meets_requirements", "development", "priority_action", "neutral"):
            assert int(row[judgement]) == by_theme[(theme, judgement)], (theme, judgement)
        assert int(row["findings"]) == sum(n for (t, _), n in by_theme.items() if t == theme)
        assert int(row["letters"]) == len(letters_with.get(theme, ()))
        assert float(row["share_of_letters"]) == pytest.approx(len(letters_with.get(theme, ())) / len(letters),
                                                              abs=1e-4)
    assert sum(int(r["findings"]) for r in rows) == sum(len(r["themes"]) for r in records)

    authority = read_csv(out / "authority_theme.csv")
    assert {r["authority"] for r in authority} == {r["authority"] or "(not stated)" for r in records}
    for row in authority:
        mine = [r for r in records if (r["authority"] or "(not stated)") == row["authority"]]
        assert int(row["findings"]) == len(mine)
        for theme in (r["theme"] for r in rows):
            assert int(row[theme]) == sum(theme in r["themes"] for r in mine)

    years = read_csv(out / "year_theme.csv")
    assert sum(int(r["findings"]) for r in years) == len(records)
    for row in years:
        mine = [r for r in records if (r["letter_date"] or "")[:4] == row["year"]
                or (not r["letter_date"] and row["year"] == "(not stated)")]
        assert int(row["letters"]) == len({r["letter_id"] for r in mine})
        assert int(row["timeliness"]) == sum("timeliness" in r["themes"] for r in mine)

    typical = read_csv(out / "typical_findings.csv")
    by_id = {r["id"]: r for r in records}
    assert typical and all(row["theme"] in by_id[row["id"]]["themes"] for row in typical)

    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["findings"] == len(records) and summary["letters"] == len(letters)
    assert [r["findings"] for r in summary["themes"]] == [int(r["findings"]) for r in rows]


def test_the_xlsx_has_one_sheet_per_table(seeds_summary):
    from openpyxl import load_workbook

    _, out = seeds_summary
    book = load_workbook(out / "summary.xlsx", read_only=True)
    assert book.sheetnames == TABLES
    for name in TABLES:
        rows = list(book[name].iter_rows(values_only=True))
        table = read_csv(out / f"{name}.csv")
        assert list(rows[0]) == list(table[0].keys())
        assert len(rows) - 1 == len(table)
    themes = {row[0]: row for row in book["themes"].iter_rows(min_row=2, values_only=True)}
    assert themes["timeliness"][7] == int(read_csv(out / "themes.csv")[0]["findings"])


def test_the_markdown_report_has_every_table(seeds_summary):
    _, out = seeds_summary
    text = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("## Findings per theme, by judgement", "## Findings per local authority and theme",
                    "## Findings per year and theme", "## Typical findings per theme"):
        assert heading in text
    assert "**" in text  # evidence in bold


def fixture_records() -> list[dict]:
    def record(i, authority, date, kind, judgement, themes):
        return {"id": f"l{i}#0000", "letter_id": f"l{i}", "authority": authority, "letter_date": date,
                "kind": kind, "judgement": judgement, "text": "Thresholds are not understood.",
                "themes": themes, "scores": {t: 0.9 for t in themes},
                "evidence": {t: [{"start": 0, "end": 10, "text": "Thresholds", "rule": "x"}] for t in themes}}

    return [record(1, "Blackpool", "2018-05-01", "focused_visit", "development", ["thresholds"]),
            record(2, "Blackpool", "2020-02-10", "inspection_report", "strength", ["thresholds", "timeliness"]),
            record(3, "Lancashire", "2021-11-30", "focused_visit", "development", ["timeliness"]),
            record(4, "Kent", None, "inspection_report", "development", [])]


@pytest.mark.parametrize("options, letters, kept", [
    ([], {"l1", "l2", "l3", "l4"}, None),
    (["--authority", "blackpool"], {"l1", "l2"}, None),
    (["--authority", "Blackpool", "--authority", "Kent"], {"l1", "l2", "l4"}, None),
    (["--since", "2019"], {"l2", "l3"}, None),
    (["--until", "2020-02"], {"l1", "l2"}, None),
    (["--since", "2018-05-02", "--until", "2021-11-30"], {"l2", "l3"}, None),
    (["--kind", "Focused_Visit"], {"l1", "l3"}, None),
    # a judgement filter keeps findings, not letters: shares stay shares of all letters
    (["--judgement", "development"], {"l1", "l2", "l3", "l4"}, {"l1", "l3", "l4"}),
    (["--judgement", "Development"], {"l1", "l2", "l3", "l4"}, {"l1", "l3", "l4"}),
    (["--judgement", "development", "--authority", "Blackpool"], {"l1", "l2"}, {"l1"}),
])
def test_filters(tmp_path, runner, options, letters, kept):
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in fixture_records()), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"),
                                 "--params", str(REPO / "params.yaml")] + THEMES + options)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["letters"] == len(letters)
    expected = [r for r in fixture_records() if r["letter_id"] in (kept or letters)
                and ("--judgement" not in options or r["judgement"] == "development")]
    assert summary["findings"] == len(expected)
    themes = {r["theme"]: r for r in summary["themes"]}
    for theme in ("thresholds", "timeliness"):
        citing = {r["letter_id"] for r in expected if theme in r["themes"]}
        assert themes[theme]["findings"] == sum(theme in r["themes"] for r in expected)
        assert themes[theme]["share_of_letters"] == round(len(citing) / len(letters), 4)
    assert sum(r["letters"] for r in summary["authority_theme"]) == len(letters)


@pytest.mark.parametrize("theme", [["--theme", "thresholds"], ["-t", "Thresholds"]])
def test_a_theme_filter_keeps_its_findings_and_its_rows_and_the_letters_in_scope(tmp_path, runner, theme):
    records = fixture_records()
    # a second finding of l2 (Blackpool), about timeliness only
    records.append({**records[1], "id": "l2#0001", "themes": ["timeliness"], "scores": {"timeliness": 0.9},
                    "evidence": {"timeliness": []}})
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(out), "--authority", "Blackpool",
                                 "--authority", "Lancashire", "--params", str(REPO / "params.yaml")]
                           + THEMES + theme)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    # l1 and l2 cite thresholds; l3 (Lancashire, timeliness only) is in scope all the same
    assert summary["findings"] == 2 and summary["letters"] == 3 and summary["letters_with_findings"] == 2
    assert summary["filters"]["theme"] == ["thresholds"] and summary["themes_tagged"] == 2
    assert [r["theme"] for r in summary["themes"]] == ["thresholds"]
    assert summary["themes"][0]["share_of_letters"] == round(2 / 3, 4)
    for table in ("authority_theme", "year_theme"):
        rows = read_csv(out / f"{table}.csv")
        assert "thresholds" in rows[0] and "timeliness" not in rows[0]
        assert sum(int(r["thresholds"]) for r in rows) == 2
        # an authority's (a year's) findings stay all of them: the theme's column is a share of them
        assert sum(int(r["findings"]) for r in rows) == 4
    assert {r["theme"] for r in read_csv(out / "typical_findings.csv")} == {"thresholds"}
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "Thresholds" in html and "Timeliness" not in html
    assert "Blackpool, Thresholds and front-door decisions: 2 of 3 findings (67%)" in html
    assert "Lancashire, Thresholds and front-door decisions: 0 of 1 findings (0%)" in html


def test_a_theme_filter_counts_the_undated_findings_of_its_themes(tmp_path, runner):
    records = [{**r, "letter_date": None} for r in fixture_records()]
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"), "--since", "2019",
                                 "--theme", "timeliness", "--params", str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 1 and "no finding matches the filters" in result.stderr
    records[2]["letter_date"] = "2021-11-30"   # l3, timeliness
    tagged.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"), "--since", "2019",
                                 "--theme", "timeliness", "--params", str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 0, result.output
    # of the three undated findings, l2's alone is about timeliness
    assert "warning: 1 finding has no date: left out by --since/--until" in result.stderr


def test_summarise_never_writes_over_the_file_it_reads(tmp_path, runner):
    out = tmp_path / "out"
    out.mkdir()
    tagged = out / "summary.json"
    text = "".join(json.dumps(r) + "\n" for r in fixture_records())
    tagged.write_text(text, encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(out),
                                 "--params", str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 1 and f"{tagged}: is a file this command reads" in result.stderr
    assert tagged.read_text(encoding="utf-8") == text and sorted(p.name for p in out.iterdir()) == ["summary.json"]


def test_findings_with_no_letter_or_letter_date_are_counted_and_dated_as_they_can_be(tmp_path, runner):
    records = fixture_records()
    # a report states only when the inspection was: its last day dates it
    records[3] = {**records[3], "inspection_start": "2019-03-04", "inspection_end": "2019-03-15"}
    # rows of a spreadsheet tagged with --findings name no letter: each counts as one,
    # even without ids
    rows = [{**{k: v for k, v in records[0].items() if k != "id"}, "letter_id": None} for _ in range(2)]
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in records + rows), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"),
                                 "--params", str(REPO / "params.yaml"), "--since", "2019"] + THEMES)
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert {r["year"]: r["letters"] for r in summary["year_theme"]} == {"2019": 1, "2020": 1, "2021": 1}
    assert "warning: 0" not in result.output
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "all"),
                                 "--params", str(REPO / "params.yaml")] + THEMES)
    summary = json.loads((tmp_path / "all" / "summary.json").read_text(encoding="utf-8"))
    assert summary["letters"] == 6
    assert "2 findings name no letter (no letter_id, source or sha256): each counted as a letter" in result.output
    undated = tagged.with_name("undated.jsonl")
    undated.write_text("".join(json.dumps({**r, "letter_date": None}) + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(undated), "--out", str(tmp_path / "u"),
                                 "--params", str(REPO / "params.yaml"), "--since", "2019"] + THEMES)
    assert "warning: 3 findings have no date: left out by --since/--until" in result.output
    # counted among the findings the other filters keep (Lancashire's is left out by --authority)
    result = runner.invoke(app, ["summarise", str(undated), "--out", str(tmp_path / "k"), "--authority", "Kent",
                                 "--authority", "Blackpool", "--params", str(REPO / "params.yaml"),
                                 "--since", "2019"] + THEMES)
    assert "warning: 2 findings have no date" in result.output


def test_text_that_looks_like_a_formula_stays_text_in_the_xlsx(tmp_path, runner):
    from openpyxl import load_workbook

    texts = ['=HYPERLINK("http://example.org","x")', "-Children wait too long.", "@cmd", "+1"]
    # the last record has no theme, so no typical finding: give it one
    records = [{**r, "text": t, "evidence": {k: [] for k in r["themes"]}}
               for r, t in zip(fixture_records(), texts)]
    records[3] = {**records[3], "themes": ["timeliness"], "scores": {"timeliness": 0.9},
                  "evidence": {"timeliness": []}}
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"),
                                 "--params", str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 0, result.output
    sheet = load_workbook(tmp_path / "out" / "summary.xlsx")["typical_findings"]
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value in texts]
    assert {c.value for c in cells} == set(texts)
    assert all(c.data_type == "s" and c.quotePrefix for c in cells)


@pytest.mark.parametrize("options, message", [
    (["--since", "last year"], "--since 'last year' is not a date"),
    (["--until", "2020-13"], "--until '2020-13' is not a date"),
    (["--judgement", "bad"], "--judgement 'bad' is not a judgement"),
    (["--authority", "Nowhere"], "no finding matches the filters (authority Nowhere)"),
    (["--kind", "focused-visit"], "no --kind focused-visit in the file; it has: focused_visit, inspection_report"),
    (["--since", "2022", "--until", "2020"], "--since 2022 is after --until 2020"),
    # a byte that is not UTF-8 on the command line (Python reads b"\xff" as "\udcff")
    (["--authority", "Kent\udcff"], "--authority 'Kent\\xff' is not text in UTF-8 (type it in UTF-8"),
    (["--kind", "\udce9t\udce9"], "--kind '\\xe9t\\xe9' is not text in UTF-8"),
    (["--theme", "threshold"], "--theme 'threshold' is not a theme of"),
    (["--theme", "recording_systems", "--authority", "Kent"],
     "no finding matches the filters (authority Kent; theme recording_systems)"),
    (["--theme", "thresholds", "--authority", "Lancashire"],
     "(no finding of those themes passes the other filters: widen them)"),
    (["--themes", "thresholds"], "thresholds: theme taxonomy not found (give --themes the taxonomy's YAML "
                                 "file, e.g. labels/themes.yaml; to summarise one theme, use --theme)"),
])
def test_bad_filters_are_one_line_errors(tmp_path, runner, options, message):
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in fixture_records()), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"),
                                 "--params", str(REPO / "params.yaml")] + THEMES + options)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_a_tagged_file_whose_name_is_not_utf8_is_named_by_its_bytes(tmp_path, runner):
    tagged = tmp_path / os.fsdecode(b"tagged\xff.jsonl")
    tagged.write_text("".join(json.dumps(r) + "\n" for r in fixture_records()), encoding="utf-8")
    out = tmp_path / os.fsdecode(b"out\xff")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(out), "--quiet",
                                 "--params", str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 0, result.output
    assert f"-> {tmp_path}/out\\xff (CSV" in result.output   # as typed, not '\\udcff'
    shown = str(tmp_path / "tagged\\xff.jsonl")
    assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["source"] == shown
    assert shown in (out / "report.html").read_text(encoding="utf-8")


def test_an_error_names_a_file_whose_name_is_not_utf8_by_its_bytes(tmp_path, runner):
    missing = tmp_path / os.fsdecode(b"gone\xff.jsonl")
    result = runner.invoke(app, ["summarise", str(missing), "--out", str(tmp_path / "out")] + THEMES)
    assert result.exit_code == 1
    assert result.output == f"safeguarding-themes: error: {tmp_path}/gone\\xff.jsonl: file not found (check the path)\n"


def test_a_csv_from_tag_is_summarised_like_the_jsonl(tmp_path, runner, seeds_summary):
    tagged, out = seeds_summary
    as_csv = tmp_path / "tagged.csv"
    result = runner.invoke(app, ["tag", *map(str, SEED_FILES.values()), "--out", str(as_csv),
                                 "--format", "csv"] + RULES)
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["summarise", str(as_csv), "--out", str(tmp_path / "s"),
                                 "--params", str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s" / "themes.csv").read_text() == (out / "themes.csv").read_text()


# ----------------------------------------------------------------- in a browser

CHECK = """
const handlers = [...document.querySelectorAll('*')].filter(
  el => [...el.attributes].some(a => a.name.toLowerCase().startsWith('on'))).length;
const charts = [...document.querySelectorAll('svg.chart')].map(svg => {
  const marks = [...svg.querySelectorAll('rect.bar, rect.cell')];
  const drawn = marks.filter(r => { const b = r.getBBox(); return b.width > 0 && b.height > 0; });
  return {id: svg.id, marks: marks.length, drawn: drawn.length,
          width: svg.getBoundingClientRect().width, height: svg.getBoundingClientRect().height};
});
return {charts: charts, scripts: document.scripts.length, marks: document.querySelectorAll('mark').length,
        handlers: handlers, images: document.images.length, bold: document.querySelectorAll('b').length,
        pwned: window.__pwned === undefined ? null : window.__pwned,
        titles: [...document.querySelectorAll('#chart-time text.strong')].map(t => t.getBBox().width),
        text: document.body.innerText};
"""


def browser():
    from browser import missing_reason, open_page

    reason = missing_reason()
    if reason:
        pytest.fail(reason)
    return open_page


def test_the_html_report_loads_in_chromium_with_its_charts_drawn(seeds_summary, tmp_path):
    open_page = browser()
    _, out = seeds_summary
    shot = tmp_path / "report.png"
    page = open_page(out / "report.html", CHECK, screenshot=shot)
    assert [e for e in page.console if e.get("level") in ("SEVERE", "WARNING")] == []
    charts = {c["id"]: c for c in page.result["charts"]}
    assert set(charts) == {"chart-judgement", "chart-heatmap", "chart-time"}
    for chart in charts.values():
        assert chart["width"] > 100 and chart["height"] > 100
        assert chart["marks"] > 0 and chart["drawn"] == chart["marks"], chart
    assert page.result["scripts"] == 0 and page.result["marks"] > 0
    # each theme's title over its own panel (210 wide), clear of the next one
    assert len(page.result["titles"]) == 17 and max(page.result["titles"]) <= 200, page.result["titles"]
    assert shot.exists() and shot.stat().st_size > 20_000


def test_text_from_letters_is_inert_in_the_report(tmp_path, runner):
    """A finding (and an authority name) carrying markup shows as text and runs nothing."""
    open_page = browser()
    attack = ('Thresholds <script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'
              '</mark><svg onload="window.__pwned=3"> are understood.')
    records = fixture_records()
    records[0]["text"] = attack
    records[0]["authority"] = '<b onmouseover="window.__pwned=4">Blackpool</b>'
    records[0]["evidence"] = {"thresholds": [{"start": 11, "end": 19, "text": "<script>",
                                              "rule": '"><script>window.__pwned=5</script>'}]}
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"),
                                 "--params", str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 0, result.output
    page = open_page(tmp_path / "out" / "report.html", CHECK, screenshot=tmp_path / "xss.png")
    # the page's content security policy would block a script anyway: check that
    # nothing from the letters became markup at all
    assert page.result["pwned"] is None
    assert page.result["scripts"] == 0 and page.result["handlers"] == 0
    assert page.result["images"] == 0 and page.result["bold"] == 0
    assert [e for e in page.console if e.get("level") == "SEVERE"] == []
    assert "<script>window.__pwned = 1</script>" in page.result["text"]
    assert '<b onmouseover="window.__pwned=4">Blackpool</b>' in page.result["text"]
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "<script>" not in markdown and "&lt;script&gt;" in markdown


def test_markdown_shows_text_from_letters_as_written(tmp_path, runner):
    records = fixture_records()
    records[0]["text"] = "Thresholds ![x](https://example.org/p.png) and [a link](https://example.org) | *b*"
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"),
                                 "--params", str(REPO / "params.yaml")] + THEMES)
    assert result.exit_code == 0, result.output
    markdown = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "![x](" not in markdown and "[a link](" not in markdown
    assert r"\!\[x\]\(https://example.org/p.png\)" in markdown and r"\*b\*" in markdown


def test_both_reports_mark_the_same_span_where_two_start_together():
    from pipeline.report import _md_highlight, highlight

    text = "Management oversight is regular."
    spans = [{"start": 0, "end": 10, "rule": "short"}, {"start": 0, "end": 20, "rule": "long"},
             {"start": 11, "end": 20, "rule": "inner"}]
    for order in (spans, spans[::-1]):
        assert highlight(text, order) == ('<mark title="long, short, inner">Management oversight</mark> '
                                          "is regular.")
        assert _md_highlight(text, order) == "**Management oversight** is regular."


def test_overlapping_evidence_is_marked_whole():
    from pipeline.report import _md_highlight, highlight

    text = "Front line management oversight is regular."
    spans = [{"start": 0, "end": 21, "rule": "a"}, {"start": 11, "end": 31, "rule": "b"},
             {"start": 35, "end": 99, "rule": "outside"}]
    for order in (spans, spans[::-1]):
        assert highlight(text, order) == '<mark title="a, b">Front line management oversight</mark> is regular.'
        assert _md_highlight(text, order) == "**Front line management oversight** is regular."


def test_a_csv_output_dates_a_report_by_its_inspection_as_the_jsonl_does(tmp_path, runner):
    """Reports state only when the inspection was; the CSV output of 'tag' had no
    inspection dates, so its summary put them under '(not stated)'."""
    report = CORPUS / "brent_inspection-report_2018-07-02.pdf"
    years = {}
    for fmt in ("jsonl", "csv"):
        tagged = tmp_path / f"tagged.{fmt}"
        result = runner.invoke(app, ["tag", str(report), str(SEED_FILES["swindon_2011"]), "--out", str(tagged),
                                     "--format", fmt] + RULES)
        assert result.exit_code == 0, result.output
        result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / fmt)] + THEMES)
        assert result.exit_code == 0, result.output
        years[fmt] = read_csv(tmp_path / fmt / "year_theme.csv")
    rows = read_csv(tmp_path / "tagged.csv")
    assert {(r["letter_date"], r["inspection_start"], r["inspection_end"]) for r in rows
            if r["letter_id"].startswith("brent")} == {("", "2018-05-14", "2018-05-25")}
    assert years["csv"] == years["jsonl"]
    assert [row["year"] for row in years["csv"]] == ["2011", "2018"]
    # the JSON of the same figures too: the CSV's empty letter date was "" there, the JSONL's null
    summaries = {fmt: json.loads((tmp_path / fmt / "summary.json").read_text(encoding="utf-8")) for fmt in years}
    for summary in summaries.values():
        summary.pop("source")
    assert summaries["csv"] == summaries["jsonl"]


def test_one_finding_from_one_letter_is_said_so(tmp_path, runner):
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text(json.dumps(fixture_records()[0]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out")] + THEMES)
    assert result.exit_code == 0, result.output
    assert "summarise: 1 finding from 1 letter ->" in result.output
    assert "1 finding from 1 letter in" in (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "1 finding from 1 letter in" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")


# ----------------------------------------------------------------- input read as analysts write it

def summarise_rows(tmp_path, runner, rows, *options, name="tagged.jsonl", out="out"):
    tagged = tmp_path / name
    if name.endswith(".csv"):
        columns = list(rows[0])
        with open(tagged, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({k: json.dumps(v) if isinstance(v, dict) else
                                 ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
    else:
        tagged.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / out)] + THEMES
                           + list(options))
    figures = (json.loads((tmp_path / out / "summary.json").read_text(encoding="utf-8"))
               if result.exit_code == 0 else None)
    return result, figures


def test_themes_typed_with_spaces_and_empty_rows_of_a_spreadsheet_count_as_meant(tmp_path, runner):
    rows = fixture_records()
    _, plain = summarise_rows(tmp_path, runner, rows, name="plain.csv", out="plain")
    with open(tmp_path / "plain.csv", encoding="utf-8") as handle:
        text = handle.read().replace("thresholds;timeliness", "thresholds; timeliness")
    assert "thresholds; timeliness" in text
    (tmp_path / "typed.csv").write_text(text + ",,,,,,,,,\n,,,,,,,,,\n", encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tmp_path / "typed.csv"), "--out", str(tmp_path / "typed")]
                           + THEMES)
    assert result.exit_code == 0, result.output
    typed = json.loads((tmp_path / "typed" / "summary.json").read_text(encoding="utf-8"))
    assert typed["themes"] == plain["themes"] and typed["findings"] == 4 and typed["letters"] == 4
    assert "name no letter" not in result.output


def test_a_theme_given_twice_counts_once_and_judgements_are_read_case_aside(tmp_path, runner):
    rows = fixture_records()[:1]
    rows[0] = {**rows[0], "themes": ["thresholds", "thresholds"], "judgement": "Priority action"}
    result, figures = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 0, result.output
    thresholds = next(r for r in figures["themes"] if r["theme"] == "thresholds")
    assert (thresholds["findings"], thresholds["priority_action"], figures["themes_tagged"]) == (1, 1, 1)


@pytest.mark.parametrize("change, message", [
    ({"themes": ["thresholds", "not_a_theme"]}, "tagged.jsonl:1: unknown theme 'not_a_theme'"),
    ({"judgement": "good-ish"}, "tagged.jsonl:1: unknown judgement 'good-ish'"),
    ({"judgement": ["development"]}, "tagged.jsonl:1: 'judgement' is not text (it is list)"),
    ({"text": 5}, "tagged.jsonl:1: 'text' is not text"),
    ({"text": ""}, "tagged.jsonl:1: no finding text"),
    ({"authority": ["Kent"]}, "tagged.jsonl:1: 'authority' is not text (it is list)"),
    ({"scores": {"thresholds": None}}, "the score of 'thresholds' is not a number (None)"),
    ({"scores": {"thresholds": 1.5}}, "tagged.jsonl:1: the score of 'thresholds' is not between 0 and 1 (1.5)"),
    ({"scores": {"thresholds": -0.25}}, "the score of 'thresholds' is not between 0 and 1 (-0.25)"),
    ({"scores": [0.9]}, "tagged.jsonl:1: 'scores' is not an object of themes"),
    ({"evidence": {"thresholds": "Thresholds"}}, "the evidence of 'thresholds' is not a list of spans"),
    ({"evidence": {"thresholds": [{"start": None, "end": 4}]}}, "has no whole-number 'start' and 'end'"),
])
def test_a_bad_value_is_a_one_line_error_naming_its_line(tmp_path, runner, change, message):
    rows = fixture_records()
    rows[0] = {**rows[0], **change}
    result, _ = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, message", [
    ("tagged.jsonl", "tagged.jsonl:1: half of a character"),
    ("tagged.csv", "tagged.csv:2: column 'evidence': half of a character"),   # JSON in a cell
])
def test_half_a_character_escaped_in_json_is_a_one_line_error_naming_its_line(tmp_path, runner, name, message):
    """'\\ud800' (a lone surrogate) is no character: every output would fail on it."""
    rows = fixture_records()
    rows[0]["evidence"] = {"thresholds": [{"start": 0, "end": 10, "text": "Thresholds", "rule": "x\ud800"}]}
    result, _ = summarise_rows(tmp_path, runner, rows, name=name)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_dates_as_a_spreadsheet_saves_them_are_read_and_a_date_not_understood_is_named(tmp_path, runner):
    rows = fixture_records()
    rows[0]["letter_date"] = "01/05/2018"           # English Excel
    rows[1]["letter_date"] = "2020-02-10 00:00:00"  # a date with a time
    rows[2]["letter_date"] = "2021-11"              # a month
    rows[3]["letter_date"] = "0203-03-01"           # a typing error: no year before Ofsted
    result, figures = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 0, result.output
    assert [(r["year"], r["letters"]) for r in figures["year_theme"]] == \
        [("2018", 1), ("2020", 1), ("2021", 1), ("(not stated)", 1)]
    assert ("warning: 1 finding has a date that is not understood (e.g. '0203-03-01', line 4): "
            "write dates as YYYY-MM-DD or DD/MM/YYYY, from 1992") in result.output
    assert "warning: 1 finding from letters with no date" in result.output
    # a month overlaps a filter that starts within it; a date in the last year Python knows
    result, figures = summarise_rows(tmp_path, runner, rows, "--since", "2021-11-15", "--until", "9999-12",
                                     out="since")
    assert result.exit_code == 0, result.output
    assert figures["letters"] == 1 and figures["year_theme"][0]["year"] == "2021"
    assert "warning: 1 finding has no date: left out by --since/--until" in result.output


def test_only_undated_findings_and_a_date_filter_say_which_date_was_not_understood(tmp_path, runner):
    rows = [{**r, "letter_date": "March 2019"} for r in fixture_records()]
    result, _ = summarise_rows(tmp_path, runner, rows, "--since", "2019")
    assert result.exit_code == 1
    assert "no finding of the file has a date that is understood (e.g. 'March 2019', line 1" in result.output
    assert "CSV from 'tag'" not in result.output


def test_the_headline_counts_letters_with_findings_and_names_the_letters_in_scope(tmp_path, runner):
    result, figures = summarise_rows(tmp_path, runner, fixture_records(), "--judgement", "strength")
    assert result.exit_code == 0, result.output
    assert (figures["findings"], figures["letters_with_findings"], figures["letters"]) == (1, 1, 4)
    headline = "1 finding from 1 letter (shares of letters are of the 4 letters in scope)"
    assert f"summarise: {headline} ->" in result.output
    for report in ("report.md", "report.html"):
        assert headline in (tmp_path / "out" / report).read_text(encoding="utf-8")


def test_an_authority_the_file_does_not_have_is_named_when_others_match(tmp_path, runner):
    result, figures = summarise_rows(tmp_path, runner, fixture_records(), "-a", "Blackpool", "-a", "Lancshire")
    assert result.exit_code == 0, result.output
    assert "warning: no finding of --authority Lancshire in the file" in result.output
    assert figures["letters"] == 2


def test_a_failure_leaves_the_output_folder_as_it_was(tmp_path, runner, monkeypatch):
    import os

    from pipeline import outputs

    result, _ = summarise_rows(tmp_path, runner, fixture_records())
    assert result.exit_code == 0, result.output
    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert len(before) == 8
    rows = fixture_records()[:2]
    # a later file that cannot be written: a folder in its place, or a full disk
    (tmp_path / "out" / "report.md").unlink()
    (tmp_path / "out" / "report.md").mkdir()
    result, _ = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 1 and "report.md: is a folder, not a file" in result.output
    (tmp_path / "out" / "report.md").rmdir()
    (tmp_path / "out" / "report.md").write_bytes(before["report.md"])
    real_fdopen, written = os.fdopen, []

    def full_disk(fd, *args, **kwargs):
        written.append(fd)
        if len(written) == 6:
            os.close(fd)
            raise OSError(28, "No space left on device")
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(outputs.os, "fdopen", full_disk)
    result, _ = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 1 and "disk full while writing" in result.output
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before
    # a folder the run made is removed again
    written.clear()
    result, _ = summarise_rows(tmp_path, runner, rows, out="new")
    assert result.exit_code == 1 and not (tmp_path / "new").exists()


def test_a_folder_given_as_the_tagged_file_is_named_as_such(tmp_path, runner):
    result = runner.invoke(app, ["summarise", str(tmp_path), "--out", str(tmp_path / "out")] + THEMES)
    assert result.exit_code == 1 and "is a folder, not a file" in result.output


def test_the_html_report_has_every_table_and_readable_counts_on_dark_cells(tmp_path, runner):
    rows = [{**fixture_records()[0], "id": f"a{i}#0", "letter_id": f"a{i}", "authority": f"Authority {i:02d}"}
            for i in range(65)]
    result, _ = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 0, result.output
    html = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    # the heat map shows the 60 biggest; the table below it every authority
    assert 'id="table-authority"' in html and 'id="table-year"' in html
    assert all(f"<td>Authority {i:02d}</td>" in html for i in range(65))
    assert 'class="small on-dark">1</text>' in html and "svg text.on-dark{fill:#fff}" in html
    assert "Equality, diversity and specific groups</text>" in html   # names whole
    from openpyxl import load_workbook

    years = load_workbook(tmp_path / "out" / "summary.xlsx")["year_theme"]
    assert years.cell(2, 1).value == 2018


def test_markdown_bold_is_never_glued_to_a_neighbour():
    from pipeline.report import _md_highlight

    text = "Caseload pressures and delay remain."
    touching = [{"start": 0, "end": 4, "rule": "a"}, {"start": 4, "end": 8, "rule": "b"}]
    assert _md_highlight(text, touching) == "**Caseload** pressures and delay remain."
    spaced = [{"start": 18, "end": 23, "rule": "a"}]   # " and " with its spaces
    assert _md_highlight(text, spaced) == "Caseload pressures **and** delay remain."


def test_letters_are_told_apart_by_content_and_a_file_joined_twice_counts_once(tmp_path, runner):
    def letter(sha, source, authority, n):
        return [{**fixture_records()[0], "id": f"letter#{i}", "letter_id": "letter", "source": source,
                 "sha256": sha * 64, "authority": authority, "start": 10 * i, "end": 10 * i + 5}
                for i in range(n)]

    # two letters both named letter.pdf, tagged apart and joined: two letters
    rows = letter("a", "a/letter.pdf", "Swindon", 2) + letter("b", "b/letter.pdf", "Wigan", 3)
    result, figures = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 0, result.output
    assert (figures["findings"], figures["letters"]) == (5, 2)
    assert [(r["authority"], r["letters"], r["findings"]) for r in figures["authority_theme"]] == \
        [("Swindon", 1, 2), ("Wigan", 1, 3)]
    assert "repeat" not in result.output
    # the same output appended to itself: each finding once, and said so
    result, again = summarise_rows(tmp_path, runner, rows + rows, out="twice")
    assert result.exit_code == 0, result.output
    assert again["themes"] == figures["themes"] and again["findings"] == 5
    assert "warning: 5 findings repeat one of the same letter at the same place" in result.output
    # as a CSV (offsets are text there) too
    result, again = summarise_rows(tmp_path, runner, rows + rows, name="twice.csv", out="csv")
    assert result.exit_code == 0, result.output
    assert again["findings"] == 5


def test_an_authority_and_a_kind_spelt_two_ways_are_one(tmp_path, runner):
    rows = fixture_records()
    rows[1]["authority"] = " BLACKPOOL "
    rows[2]["kind"] = "focused_visit "
    result, figures = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 0, result.output
    # one row per authority as the filter matches it, under its most common spelling
    # (a tie: the first in order)
    assert [(r["authority"], r["letters"]) for r in figures["authority_theme"]] == \
        [("BLACKPOOL", 2), ("Kent", 1), ("Lancashire", 1)]
    result, figures = summarise_rows(tmp_path, runner, rows, "--kind", "Focused_Visit", out="kind")
    assert result.exit_code == 0, result.output
    assert figures["letters"] == 2 and "warning" not in result.output
    result, figures = summarise_rows(tmp_path, runner, rows, "--authority", "blackpool", out="a")
    assert figures["letters"] == 2


def test_a_letter_date_not_understood_gives_way_to_the_inspection_date_and_says_so(tmp_path, runner):
    rows = fixture_records()
    rows[0] = {**rows[0], "letter_date": "16 March 2011", "inspection_end": "2011-02-16"}
    rows[1] = {**rows[1], "letter_date": "March 2020"}
    result, figures = summarise_rows(tmp_path, runner, rows)
    assert result.exit_code == 0, result.output
    assert ("warning: 2 findings have a date that is not understood (e.g. '16 March 2011', line 1); "
            "1 of them is dated by another of its dates: write dates as") in result.output
    assert [(r["year"], r["letters"]) for r in figures["year_theme"]] == \
        [("2011", 1), ("2021", 1), ("(not stated)", 2)]


def test_judgements_as_written_and_an_empty_date_filter(tmp_path, runner):
    rows = fixture_records()
    rows[0]["judgement"] = "priority_action"
    rows[3]["judgement"] = None
    result, figures = summarise_rows(tmp_path, runner, rows, "--judgement", "Priority action")
    assert result.exit_code == 0, result.output
    assert figures["findings"] == 1 and figures["filters"]["judgement"] == ["Priority action"]
    result, _ = summarise_rows(tmp_path, runner, rows, out="all")
    assert "warning: 1 finding has no judgement: counted as neutral" in result.output
    result, _ = summarise_rows(tmp_path, runner, rows, "--since", "", out="empty")
    assert result.exit_code == 1 and "--since '' is not a date" in result.output


@pytest.mark.parametrize("name, content, message", [
    ("deep.jsonl", "[" * 100_000 + "]" * 100_000 + "\n", "deep.jsonl:1: malformed JSON (nested too deeply)"),
    ("long.jsonl", '{"text": "a", "themes": [], "id": ' + "9" * 5000 + "}\n", "long.jsonl:1: malformed JSON (Exceeds"),
    ("score.jsonl", '{"text": "a", "themes": ["thresholds"], "scores": {"thresholds": 1' + "0" * 400 + "}}\n",
     "score.jsonl:1: the score of 'thresholds' is not a number (100000"),
    ("latin.jsonl", b'{"text": "a", "themes": []}\n{"text": "caf\xe9", "themes": []}\n',
     "latin.jsonl:2: not UTF-8 text"),
    ("quote.csv", 'text,themes\nTimely.,timeliness\n"Thresholds,thresholds\n' + "a " * 70_000 + "\n,thresholds\n",
     "quote.csv:3: a cell of more than 131072 characters starts here (check for a quote"),
])
def test_a_line_that_cannot_be_read_is_a_one_line_error_naming_it(tmp_path, runner, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(path), "--out", str(tmp_path / "out")] + THEMES)
    assert result.exit_code == 1, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1, result.output


def test_a_full_disk_while_the_workbook_is_made_is_a_one_line_error(tmp_path, runner, monkeypatch):
    from openpyxl import Workbook

    def full(self, filename):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Workbook, "save", full)
    result, _ = summarise_rows(tmp_path, runner, fixture_records())
    assert result.exit_code == 1
    assert "building summary.xlsx: disk full while writing" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_the_markdown_report_shows_a_filter_value_as_written():
    from pipeline.report import render_markdown
    from pipeline.summarise import Filters, summarise
    from pipeline.themes import load_taxonomy

    rows = fixture_records()
    rows[0]["authority"] = "<i>Blackpool</i>"
    summary = summarise(rows, load_taxonomy(REPO / "labels" / "themes.yaml"), Filters(["<i>Blackpool</i>"]))
    assert "Filters: authority &lt;i&gt;Blackpool&lt;/i&gt;." in render_markdown(summary, "t.jsonl")


def test_typical_is_limited_as_in_params_yaml(tmp_path, runner):
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in fixture_records()), encoding="utf-8")
    for value, code in (("101", 2), ("0", 2), ("100", 0)):
        out = tmp_path / f"out{value}"
        result = runner.invoke(app, ["summarise", str(tagged), "--out", str(out), "--typical", value,
                                     "--params", str(REPO / "params.yaml")] + THEMES)
        assert result.exit_code == code, result.output
        assert out.exists() == (code == 0)
        if value == "101":
            assert "less than or equal to 100" in result.output, result.output


def test_summarise_reads_findings_one_at_a_time_and_keeps_none():
    """'tag' on 10,000 letters writes some 1.5 million findings: the summary is made as
    they are read and holds its figures, not the findings (which as records would fill
    the memory of an analyst's laptop)."""
    import gc
    import weakref

    from pipeline.summarise import Filters, summarise
    from pipeline.themes import load_taxonomy

    class Finding(dict):   # a dict that a weak reference can watch
        pass

    watched = []

    def findings():
        for copy in range(50):
            for record in fixture_records():
                finding = Finding(record, letter_id=f"{record['letter_id']}-{copy}")
                watched.append(weakref.ref(finding))
                yield finding

    summary = summarise(findings(), load_taxonomy(REPO / "labels" / "themes.yaml"), Filters())
    gc.collect()
    assert len(watched) == 200 and not [ref for ref in watched if ref() is not None]
    assert (summary.findings, summary.letters) == (200, 200)
    # the typical findings are copies of what the tables show
    thresholds = [row for row in summary.typical_findings if row["theme"] == "thresholds"]
    assert len(thresholds) == 5 and thresholds[0]["letter_id"] == "l1-0"


def test_typical_findings_kept_while_reading_are_those_of_sorting_them_all():
    """The typical findings are chosen as the file is read, holding per theme only the
    letters chosen so far: the same as sorting every finding of the theme (by score,
    then id, then order in the file) and taking each letter's first."""
    import random

    from pipeline.summarise import Filters, summarise
    from pipeline.themes import load_taxonomy

    taxonomy = load_taxonomy(REPO / "labels" / "themes.yaml")
    themes = ["thresholds", "timeliness", "supervision"]
    rng = random.Random(7)
    for _ in range(200):
        per_theme = rng.randint(1, 4)
        records = []
        for i in range(rng.randint(1, 60)):
            tagged = rng.sample(themes, rng.randint(0, 3))
            records.append({"id": f"f{rng.randint(0, 20)}", "letter_id": f"l{rng.randint(0, 8)}",
                            "text": f"finding {i}", "themes": tagged, "judgement": "development",
                            "scores": {t: rng.choice([0.5, 0.7, 0.9, 1.0]) for t in tagged}})
        summary = summarise(records, taxonomy, Filters(), per_theme)
        for theme in themes:
            ordered = sorted((r for r in records if theme in r["themes"]),
                             key=lambda r: (-r["scores"][theme], r["id"]))
            expected, letters = [], set()
            for r in ordered:
                if r["letter_id"] not in letters:
                    letters.add(r["letter_id"])
                    expected.append(r["text"])
            got = [row["text"] for row in summary.typical_findings if row["theme"] == theme]
            assert got == expected[:per_theme], (theme, per_theme, records)


@pytest.mark.parametrize("progress", [True, False])
def test_summarise_shows_its_progress_on_a_terminal(tmp_path, monkeypatch, progress):
    import io
    import sys

    from pipeline.summarise import run_summarise
    from pipeline.themes import load_taxonomy

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in fixture_records()), encoding="utf-8")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    run_summarise(tagged, tmp_path / "out", load_taxonomy(REPO / "labels" / "themes.yaml"), progress=progress)
    # the bar counts findings against the lines of the file
    assert ("4/4" in terminal.getvalue()) == progress, terminal.getvalue()


@pytest.mark.parametrize("options, progress", [([], True), (["--quiet"], False), (["-q"], False)])
def test_summarise_quiet_turns_the_bar_off(tmp_path, runner, monkeypatch, options, progress):
    from pipeline import summarise

    seen = {}
    monkeypatch.setattr(summarise, "run_summarise", lambda *args, **kwargs: seen.update(kwargs) or "done")
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in fixture_records()), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out")] + THEMES + options)
    assert result.exit_code == 0, result.output
    assert seen == {"progress": progress}


def test_repeats_are_found_by_letter_offsets_and_text_whatever_they_hold(tmp_path, runner):
    """Two findings whose letter and text, run together, read alike are not repeats
    (a separator character inside a field must not join them)."""
    record = fixture_records()[0]
    rows = [{**record, "id": "a", "letter_id": "a", "source": "b\x1f1", "start": 2, "end": 3, "text": "x"},
            {**record, "id": "b", "letter_id": "a", "source": "b", "start": 1, "end": 2, "text": "3\x1fx"},
            {**record, "id": "c", "letter_id": "a", "source": "b", "start": "²", "end": 4, "text": "y"}]
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[1:2]), encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out")] + THEMES)
    assert result.exit_code == 0, result.output
    # the second finding's copy is the one repeat; "²" is no offset, so never a repeat
    assert "1 finding repeats one of the same letter" in result.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["findings"] == 3


def test_filters_are_checked_before_the_file_is_read(tmp_path, runner):
    tagged = tmp_path / "tagged.jsonl"
    tagged.write_text(json.dumps(fixture_records()[0]) + "\n" + '{"text": "x"}\n', encoding="utf-8")
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out"), "--theme", "nosuch"]
                           + THEMES)
    assert result.exit_code == 1 and "--theme 'nosuch' is not a theme" in result.stderr
    result = runner.invoke(app, ["summarise", str(tagged), "--out", str(tmp_path / "out")] + THEMES)
    assert result.exit_code == 1 and f"{tagged}:2: not a tagged finding" in result.stderr


def test_a_named_pipe_is_read_once_with_the_progress_bar_shown(tmp_path, monkeypatch):
    import io
    import os
    import sys
    import threading

    from pipeline.summarise import run_summarise
    from pipeline.themes import load_taxonomy

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    pipe = tmp_path / "tagged.jsonl"
    os.mkfifo(pipe)

    def write():
        with open(pipe, "w", encoding="utf-8") as handle:
            handle.write("".join(json.dumps(r) + "\n" for r in fixture_records()))

    monkeypatch.setattr(sys, "stderr", Terminal())
    done = []
    threading.Thread(target=write, daemon=True).start()
    summary = threading.Thread(target=lambda: done.append(run_summarise(
        pipe, tmp_path / "out", load_taxonomy(REPO / "labels" / "themes.yaml"))), daemon=True)
    summary.start()
    summary.join(60)
    if not done:   # waiting for a second writer: give it one, so that the thread ends
        threading.Thread(target=write, daemon=True).start()
    assert done and "4 findings from 4 letters" in done[0]
