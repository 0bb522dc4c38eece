"""Command-line interface: typer options wired to the stage functions.

Nothing here does the work; each command calls one function of a stage module.
Expected failures (SafeguardingError) become one line on stderr and exit code 1.
"""

from __future__ import annotations

import functools
import sys
from enum import Enum
from pathlib import Path
from typing import Callable, List, Optional

import typer

from .errors import SafeguardingError

app = typer.Typer(
    name="safeguarding-themes",
    help="Split Ofsted children's services inspection letters into findings and tag them "
         "with safeguarding themes.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """Split Ofsted children's services inspection letters into findings and tag them
    with safeguarding themes. Run a command with --help for its options and an example."""


def fail(message: str, code: int = 1) -> None:
    typer.echo(f"safeguarding-themes: error: {message}", err=True)
    raise typer.Exit(code)


def expected_errors(func: Callable) -> Callable:
    """Report expected failures as one line and exit 1; Ctrl-C as exit 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SafeguardingError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            fail("interrupted; outputs already complete were kept, partial ones removed", 130)

    return wrapper


class OutputFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


@app.command("segment")
@expected_errors
def segment_command(
    paths: List[Path] = typer.Argument(..., help="Letters (PDF, TXT, DOCX, HTML) or folders, "
                                                 "searched recursively."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the findings."),
    output_format: OutputFormat = typer.Option(OutputFormat.jsonl, "--format", "-f",
                                               help="jsonl (one JSON object per finding) or csv."),
    texts: Optional[Path] = typer.Option(None, "--texts", help="Also write each letter's "
                                         "extracted text here; finding offsets index into it."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Split letters into findings with section, judgement and offsets.

    Example:

        safeguarding-themes segment seeds corpus --out findings.jsonl

        safeguarding-themes segment letter.pdf --format csv --out findings.csv
    """
    from .segment import run_segment

    summary = run_segment(paths, out, output_format.value, texts_dir=texts, progress=not quiet)
    typer.echo(summary, err=True)


class Method(str, Enum):
    rules = "rules"


@app.command("tag")
@expected_errors
def tag_command(
    paths: List[Path] = typer.Argument(None, help="Letters or folders to segment and tag."),
    findings: Optional[Path] = typer.Option(None, "--findings", help="Tag findings that are already "
                                            "split: JSONL or CSV with a 'text' column (and "
                                            "optional 'id', kept)."),
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the tagged findings."),
    method: Method = typer.Option(Method.rules, "--method", "-m", help="How themes are assigned."),
    output_format: OutputFormat = typer.Option(OutputFormat.jsonl, "--format", "-f",
                                               help="jsonl or csv."),
    themes: Path = typer.Option(Path("labels/themes.yaml"), "--themes", help="Theme taxonomy."),
    patterns: Path = typer.Option(Path("labels/patterns.jsonl"), "--patterns", help="Rule patterns."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Tag findings with safeguarding themes; every tag carries its evidence.

    Example:

        safeguarding-themes tag seeds --method rules --out tagged.jsonl

        safeguarding-themes tag --findings spreadsheet.csv --format csv --out tagged.csv
    """
    from .tag import build_tagger, run_tag
    from .themes import load_taxonomy

    tagger = build_tagger(load_taxonomy(themes), patterns, method.value)
    typer.echo(run_tag(tagger, out, output_format.value, paths=paths or [], findings=findings,
                       progress=not quiet), err=True)


rules_app = typer.Typer(help="Inspect the rule patterns.", no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("report")
@expected_errors
def rules_report_command(
    gold: Path = typer.Option(Path("labels/gold.jsonl"), "--gold", help="Gold labels (JSONL or CSV)."),
    patterns: Path = typer.Option(Path("labels/patterns.jsonl"), "--patterns", help="Rule patterns."),
    themes: Path = typer.Option(Path("labels/themes.yaml"), "--themes", help="Theme taxonomy."),
    out: Optional[Path] = typer.Option(None, "--out", "-o", help="Write the Markdown report here "
                                       "(default: print it)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Also write the figures as JSON."),
) -> None:
    """Measure every rule against the gold labels: coverage, precision, recall,
    overlaps, conflicts, rules that never fire; per theme P/R/F1 of the rules alone.

    Example:

        safeguarding-themes rules report --out reports/rules.md --json reports/rules.json
    """
    from .labelset import load_labelled
    from .outputs import atomic_text, write_json
    from .rules import RuleTagger, load_patterns
    from .rules_report import render_markdown, rules_report
    from .themes import load_taxonomy

    taxonomy = load_taxonomy(themes)
    tagger = RuleTagger(load_patterns(patterns, taxonomy), taxonomy)
    report = rules_report(load_labelled(gold, taxonomy), tagger)
    text = render_markdown(report)
    if out is None:
        typer.echo(text)
    else:
        with atomic_text(out) as handle:
            handle.write(text)
        typer.echo(f"rules report: micro-F1 {report['micro']['f1']:.3f}, macro-F1 "
                   f"{report['macro']['f1']:.3f} on {report['findings']} findings -> {out}", err=True)
    if json_out is not None:
        write_json(json_out, report)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # raised outside a command (e.g. while importing)
        typer.echo("safeguarding-themes: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
