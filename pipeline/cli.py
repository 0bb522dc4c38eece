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


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:  # raised outside a command (e.g. while importing)
        typer.echo("safeguarding-themes: interrupted", err=True)
        sys.exit(130)


if __name__ == "__main__":
    main()
