"""Command-line interface: typer options wired to the stage functions.

Nothing here does the work; each command calls one function of a stage module.
Expected failures (SafeguardingError) become one line on stderr and exit code 1.
"""

from __future__ import annotations

import functools
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Callable, List, Optional

import typer

from .errors import SafeguardingError
from .interrupts import interrupted_exit_code
from .surrogates import has_lone_surrogate, printable

app = typer.Typer(
    name="safeguarding-themes",
    # typer shows this, not the callback's docstring
    help="Split Ofsted children's services inspection letters into findings and tag them "
         "with safeguarding themes. Run a command with --help for its options and an example. "
         "Run from the repository's root folder, where the default labels, models and "
         "params.yaml are.\n\nExample:\n\n\b\n"
         "    safeguarding-themes tag inbox/ --out tagged.jsonl\n"
         "    safeguarding-themes summarise tagged.jsonl --out summary/\n"
         "    safeguarding-themes train --labels labels/gold.jsonl",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


@app.callback()
def _group() -> None:
    """The command group (its help is the app's)."""


def say(text: str) -> None:
    """A command's report on stderr. A file name that is not UTF-8 is shown by its bytes
    ('\\xff'), as a terminal shows it, not as the half character Python read ('\\udcff')."""
    typer.echo(printable(text), err=True)


def fail(message: str, code: int = 1) -> None:
    say(f"safeguarding-themes: error: {message}")
    raise typer.Exit(code)


def expected_errors(func: Callable) -> Callable:
    """Report expected failures as one line and exit 1; Ctrl-C as exit 130 (a SIGTERM
    sent on as Ctrl-C: 143)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SafeguardingError as exc:
            fail(str(exc))
        except PermissionError as exc:
            # pathlib's tests raise this for a folder that may not be searched, before the
            # read or write that would have named the fix; one that names no file is a bug
            if exc.filename is None:
                raise
            fail(f"{exc.filename}: {(exc.strerror or 'permission denied').lower()} (check its "
                 "permissions and those of the folders on its path: ls -ld)")
        except KeyboardInterrupt:
            fail("interrupted; outputs already complete were kept, partial ones removed",
                 interrupted_exit_code())

    return wrapper


def file_name(value: str | Path) -> Path:
    """An output file's path as typed. 'new/' or 'new/.' says the user means a
    folder; pathlib drops the ending, and a file called 'new' would be written."""
    if isinstance(value, Path):   # a default
        return value
    last = value.replace(os.sep, "/").rsplit("/", 1)[-1]
    if last in ("", ".", ".."):
        shown = f"'{printable(value)}'" if has_lone_surrogate(value) else repr(value)
        raise typer.BadParameter(f"{shown} names a folder, not a file; give a file's name, in that "
                                 "folder or elsewhere")
    return Path(value)


# the options of output files (a folder's options keep the plain Path)
FILE_OPTION = {"parser": file_name, "metavar": "<path>"}


class OutputFormat(str, Enum):
    jsonl = "jsonl"
    csv = "csv"


# what an output's name says it holds: a file named .csv that holds JSON lines opens as
# a broken spreadsheet, and 'summarise' reads a table by its name's ending
_FORMAT_OF_SUFFIX = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
_NOT_WRITTEN_HERE = {".xlsx", ".xlsm", ".xls", ".ods", ".html", ".htm", ".md", ".pdf", ".docx", ".doc"}


def format_for(output_format: "OutputFormat | None", out: Path) -> str:
    """The --format given, or the one the output's name says; a name that says another
    format is refused before any work."""
    from .errors import OutputError

    suffix = out.suffix.lower()
    if suffix in _NOT_WRITTEN_HERE:
        raise OutputError(f"--out names a {suffix} file, but this command writes JSONL or CSV",
                          path=out, fix="end the name .jsonl or .csv; 'summarise' writes XLSX, "
                                        "HTML and Markdown from it")
    named = _FORMAT_OF_SUFFIX.get(suffix)
    if output_format is None:
        return named or "jsonl"
    if named is not None and named != output_format.value:
        raise OutputError(f"--format {output_format.value} does not match the name's ending {suffix}",
                          path=out, fix=f"name it .{output_format.value}, or leave out --format")
    return output_format.value


@app.command("segment")
@expected_errors
def segment_command(
    paths: List[Path] = typer.Argument(..., metavar="LETTERS", help="Letters (PDF, TXT, DOCX, HTML) or folders, "
                                                 "searched recursively."),
    out: Path = typer.Option(..., "--out", "-o", **FILE_OPTION, help="Where to write the findings."),
    output_format: Optional[OutputFormat] = typer.Option(None, "--format", "-f",
                                                         help="jsonl (one JSON object per finding) or "
                                                              "csv (default: csv for an --out ending .csv, "
                                                              "else jsonl)."),
    texts: Optional[Path] = typer.Option(None, "--texts", help="Also write each letter's "
                                         "extracted text here; finding offsets index into it."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Split letters into findings with section, judgement and offsets.

    Example:

    \b
        safeguarding-themes segment seeds corpus --out findings.jsonl
        safeguarding-themes segment letter.pdf --format csv --out findings.csv
    """
    from .segment import run_segment

    summary = run_segment(paths, out, format_for(output_format, out), texts_dir=texts, progress=not quiet)
    say(summary)


class Method(str, Enum):
    combined = "combined"
    rules = "rules"


# options that several commands share, declared once
PARAMS_OPTION = typer.Option(None, "--params", help="Stage parameters (YAML). Default: params.yaml "
                                                     "of the working folder if there is one, else "
                                                     "the built-in defaults (the same values).")
THEMES_OPTION = typer.Option(Path("labels/themes.yaml"), "--themes", help="Theme taxonomy.")
PATTERNS_OPTION = typer.Option(Path("labels/patterns.jsonl"), "--patterns", help="Rule patterns.")
MODELS_OPTION = typer.Option(Path("models"), "--models", help="Folder of the trained models.")


@app.command("train")
@expected_errors
def train_command(
    labels: Path = typer.Option(Path("labels/gold.jsonl"), "--labels", "-l",
                                help="Labelled findings: JSONL or CSV with 'text' and 'themes' "
                                     "(';'-separated in CSV), optional 'judgement'."),
    out_dir: Path = typer.Option(Path("models"), "--out-dir", help="Where to write the models."),
    themes: Path = THEMES_OPTION,
    patterns: Path = PATTERNS_OPTION,
    params: Optional[Path] = PARAMS_OPTION,
) -> None:
    """Train the theme classifier and the judgement classifier from labelled findings.

    Writes models/themes.joblib and models/judgement.joblib, each with a .meta.json
    (library versions, params, label set, training-data hash, artifact sha256).

    Example:

    \b
        safeguarding-themes train --labels labels/gold.jsonl --out-dir models
    """
    from .outputs import check_output_folder
    from .params import load_params
    from .themes import load_taxonomy
    from .train import run_train

    check_output_folder(out_dir, "--out-dir")
    say(run_train(labels, out_dir, load_params(params, "train"), load_taxonomy(themes), patterns))



@app.command("tag")
@expected_errors
def tag_command(
    paths: List[Path] = typer.Argument(None, metavar="LETTERS", help="Letters or folders (searched recursively) to "
                                       "segment and tag."),
    findings: Optional[Path] = typer.Option(None, "--findings", help="Tag findings that are already "
                                            "split: JSONL or CSV with a 'text' column (and "
                                            "optional 'id', kept)."),
    out: Path = typer.Option(..., "--out", "-o", **FILE_OPTION, help="Where to write the tagged findings."),
    method: Optional[Method] = typer.Option(None, "--method", "-m",
                                            help="combined: the trained model weighing words and rule "
                                                 "matches (needs models/); rules: the patterns alone. "
                                                 "Default: params.yaml (tag.method), else combined."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=0, help="Letters tagged in parallel "
                                       "(worker processes); 0: one per core. Default: params.yaml "
                                       "(tag.jobs), else 0."),
    resume: bool = typer.Option(False, "--resume", help="Carry on an interrupted run (or add to a "
                                "finished output): letters already in the output, by content "
                                "hash, are not tagged again."),
    models: Path = MODELS_OPTION,
    output_format: Optional[OutputFormat] = typer.Option(None, "--format", "-f",
                                                         help="jsonl or csv (default: csv for an --out "
                                                              "ending .csv, else jsonl)."),
    themes: Path = THEMES_OPTION,
    patterns: Path = PATTERNS_OPTION,
    params: Optional[Path] = PARAMS_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Tag findings with safeguarding themes; every tag carries its evidence.

    Letters are tagged in parallel and written as they finish to OUT.partial,
    which becomes OUT when the run completes. A letter that cannot be read is
    listed in OUT.errors.csv and the others go on. After an interrupt, run the
    same command with --resume; --resume on a finished output adds the letters
    new or changed since, if OUT.tagger.json shows the same patterns and models.

    Example:

    \b
        safeguarding-themes tag inbox/ --out tagged.jsonl
        safeguarding-themes tag inbox/ --out tagged.jsonl --resume
        safeguarding-themes tag --findings spreadsheet.csv --format csv --out tagged.csv
        safeguarding-themes tag letter.pdf --method rules --out tagged.jsonl
    """
    from .params import load_params
    from .outputs import check_outputs
    from .tag import check_inputs

    check_inputs(paths or [], findings)
    check_outputs([("--out", out)])
    written_as = format_for(output_format, out)   # before any work, as the other checks
    stage = load_params(params, "tag")
    method_name = method.value if method is not None else stage.get("method", "combined")
    jobs = jobs if jobs is not None else stage.get("jobs", 0)
    if findings is not None:
        from .batch import OutputLock
        from .errors import InputError
        from .tag import build_tagger, run_tag_findings
        from .themes import load_taxonomy

        if resume:
            raise InputError("--resume is for letters, not --findings",
                             fix="tag the findings file again without --resume")
        tagger = build_tagger(load_taxonomy(themes), patterns, method_name, models)
        with OutputLock(out):
            say(run_tag_findings(tagger, findings, out, written_as))
        return
    from .batch import TaggerConfig, describe, partial_path, run_batch

    config = TaggerConfig(str(themes), str(patterns), method_name, str(models))
    try:
        summary = run_batch(paths, out, config, output_format=written_as, jobs=jobs,
                            resume=resume, progress=not quiet)
    except KeyboardInterrupt:
        if not partial_path(out).exists():
            fail("interrupted before any letter was written; nothing was changed", interrupted_exit_code())
        fail(f"interrupted; the letters done are kept in {partial_path(out)}: run the same "
             "command with --resume to finish", interrupted_exit_code())
    say(describe(summary, out))


@app.command("evaluate")
@expected_errors
def evaluate_command(
    labels: Path = typer.Option(Path("labels/gold.jsonl"), "--labels", "-l", help="Labelled findings."),
    metrics: Path = typer.Option(Path("reports/metrics.json"), "--metrics", **FILE_OPTION, help="Metrics JSON "
                                 "(for 'dvc metrics show/diff')."),
    plots: Path = typer.Option(Path("reports/plots"), "--plots", help="Folder for plot data "
                               "(for 'dvc plots')."),
    report: Optional[Path] = typer.Option(Path("reports/evaluation.md"), "--report", **FILE_OPTION,
                                          help="Markdown tables."),
    themes: Path = THEMES_OPTION,
    patterns: Path = PATTERNS_OPTION,
    params: Optional[Path] = PARAMS_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress messages."),
) -> None:
    """Cross-validate rules alone, model alone and the combined tagger, grouped by letter
    (no letter in both training and test folds), and the judgement classifier.

    Example:

    \b
        safeguarding-themes evaluate --metrics reports/metrics.json --plots reports/plots
    """
    from .evaluate import PLOT_FILES, run_evaluate
    from .outputs import check_output_folder, check_outputs
    from .params import load_params, params_file
    from .themes import load_taxonomy

    check_output_folder(plots, "--plots")
    check_outputs([("--metrics", metrics), ("--report", report)]
                  + [("--plots", plots / name) for name in PLOT_FILES],
                  [labels, themes, patterns, params_file(params)])
    all_params = load_params(params)
    folds = all_params.get("evaluate", {}).get("folds", 5)

    def progress(done, total):
        if not quiet:
            say(f"evaluate: fold {done}/{total} done")

    say(run_evaluate(labels, metrics, plots, report, all_params.get("train", {}), folds,
                     load_taxonomy(themes), patterns, progress,
                     all_params.get("evaluate", {}).get("held_out_set")))


@app.command("suggest")
@expected_errors
def suggest_command(
    paths: List[Path] = typer.Argument(None, metavar="LETTERS", help="Letters or folders to draw findings from."),
    findings: Optional[Path] = typer.Option(None, "--findings", help="Or: findings from 'segment' "
                                            "(JSONL/CSV)."),
    out: Path = typer.Option(Path("to-label.csv"), "--out", "-o", **FILE_OPTION, help="CSV for a spreadsheet."),
    top: int = typer.Option(100, "--top", min=1, help="How many findings to suggest."),
    labels: Path = typer.Option(Path("labels/gold.jsonl"), "--labels", help="Gold labels (findings "
                                "already labelled are left out)."),
    models: Path = MODELS_OPTION,
    themes: Path = THEMES_OPTION,
    patterns: Path = PATTERNS_OPTION,
) -> None:
    """Rank unlabelled findings by how much labelling them would help (the model's
    uncertainty) and export the top ones to CSV, to label in a spreadsheet.

    Example:

    \b
        safeguarding-themes suggest new-letters/ --top 200 --out to-label.csv
    """
    from .ingest import find_letters
    from .labelling import run_suggest
    from .outputs import check_outputs
    from .tag import build_tagger, check_inputs, findings_of
    from .themes import load_taxonomy

    check_inputs(paths or [], findings, "suggest")
    letters = find_letters(paths) if paths else []   # none found: an error naming the folders
    model_files = sorted(models.iterdir()) if models.is_dir() else []
    check_outputs([("--out", out)], [labels, findings, themes, patterns, *model_files, *letters])
    tagger = build_tagger(load_taxonomy(themes), patterns, "combined", models)
    source = str(findings) if findings is not None else ", ".join(map(str, paths))
    say(run_suggest(tagger, findings_of(letters, findings), labels, out, top, source))


labels_app = typer.Typer(help="Work with the gold labels.\n\nExample:\n\n\b\n"
                              "    safeguarding-themes labels import labelled.csv\n"
                              "    safeguarding-themes labels audit --out to_check.csv",
                         no_args_is_help=True)
app.add_typer(labels_app, name="labels")


@labels_app.command("import")
@expected_errors
def labels_import_command(
    table: Path = typer.Argument(..., metavar="TABLE", help="The CSV (or JSONL) from 'suggest', with 'themes' filled in."),
    labels: Path = typer.Option(Path("labels/gold.jsonl"), "--labels", **FILE_OPTION, help="Gold labels to add to."),
    themes: Path = THEMES_OPTION,
    replace: bool = typer.Option(False, "--replace", help="Relabel findings already in the gold labels."),
) -> None:
    """Add labelled rows to the gold labels, every row checked first (themes, judgement,
    ids). Rows with neither 'themes' nor 'judgement' filled in are left for later; a row
    with a judgement and an empty 'themes' cell is a finding with no theme.

    Example:

    \b
        safeguarding-themes labels import to-label.csv
    """
    from .labelling import run_import
    from .themes import load_taxonomy

    say(run_import(table, labels, load_taxonomy(themes), replace))


@labels_app.command("audit")
@expected_errors
def labels_audit_command(
    labels: Path = typer.Option(Path("labels/gold.jsonl"), "--labels", help="Gold labels."),
    out: Path = typer.Option(Path("audit.csv"), "--out", "-o", **FILE_OPTION, help="CSV of suspect labels."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Keep the N strongest disagreements."),
    themes: Path = THEMES_OPTION,
    patterns: Path = PATTERNS_OPTION,
    params: Optional[Path] = PARAMS_OPTION,
) -> None:
    """List gold labels that the out-of-fold model disagrees with strongly (likely
    labelling errors), strongest first, for a second look against the guidelines.

    Example:

    \b
        safeguarding-themes labels audit --top 100 --out audit.csv
    """
    from .labelling import run_audit
    from .outputs import check_outputs
    from .params import load_params, params_file
    from .themes import load_taxonomy

    check_outputs([("--out", out)], [labels, themes, patterns, params_file(params)])
    all_params = load_params(params)
    say(run_audit(labels, out, all_params.get("train", {}),
                  all_params.get("evaluate", {}).get("folds", 5), load_taxonomy(themes), patterns, top))


@app.command("summarise")
@expected_errors
def summarise_command(
    tagged: Path = typer.Argument(..., metavar="TAGGED", help="Tagged findings (the output of 'tag', JSONL or CSV)."),
    out: Path = typer.Option(Path("summary"), "--out", "-o", help="Folder for the summaries."),
    authority: List[str] = typer.Option([], "--authority", "-a", help="Only this local authority "
                                        "(as in the 'authority' column; repeat for several)."),
    since: Optional[str] = typer.Option(None, "--since", help="Only letters dated on or after this "
                                        "(YYYY, YYYY-MM or YYYY-MM-DD)."),
    until: Optional[str] = typer.Option(None, "--until", help="Only letters dated on or before this."),
    kind: List[str] = typer.Option([], "--kind", "-k", help="Only this kind of document, e.g. "
                                   "focused_visit, inspection_report (repeat for several)."),
    judgement: List[str] = typer.Option([], "--judgement", "-J", help="Only findings with this "
                                        "judgement, e.g. development (repeat for several)."),
    theme: List[str] = typer.Option([], "--theme", "-t", help="Only this theme, by id or name, e.g. "
                                    "thresholds (repeat for several): its findings, rows and charts."),
    typical: Optional[int] = typer.Option(None, "--typical", min=1, max=100, help="Typical findings shown per "
                                          "theme (default: params.yaml, summarise.typical_findings)."),
    themes: Path = THEMES_OPTION,
    params: Optional[Path] = PARAMS_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Theme summaries of tagged findings: tables (CSV, and XLSX with a sheet per
    table) per theme by judgement with the share of letters, per local authority
    and per year; JSON of the same figures; a Markdown report and a self-contained
    HTML report with charts and each theme's typical findings, evidence highlighted.

    Example:

    \b
        safeguarding-themes summarise tagged.jsonl --out summary/
        safeguarding-themes summarise tagged.jsonl --out nw/ --since 2019 --authority Blackpool --authority Lancashire --judgement development
        safeguarding-themes summarise tagged.jsonl --out thresholds-nw/ --theme thresholds --authority Blackpool --authority Lancashire
    """
    from .outputs import check_output_folder, check_outputs
    from .params import load_params, params_file
    from .summarise import OUTPUT_FILES, Filters, run_summarise
    from .themes import load_taxonomy

    check_output_folder(out)
    check_outputs([("--out", out / name) for name in OUTPUT_FILES], [tagged, themes, params_file(params)])
    per_theme = typical
    if per_theme is None:
        per_theme = load_params(params, "summarise").get("typical_findings", 5)
    filters = Filters(authority, kind, judgement, since, until, theme)
    say(run_summarise(tagged, out, load_taxonomy(themes), filters, per_theme, progress=not quiet))


rules_app = typer.Typer(help="Inspect the rule patterns.\n\nExample:\n\n\b\n"
                             "    safeguarding-themes rules report --out reports/rules.md",
                        no_args_is_help=True)
app.add_typer(rules_app, name="rules")


@rules_app.command("report")
@expected_errors
def rules_report_command(
    gold: Path = typer.Option(Path("labels/gold.jsonl"), "--gold", help="Gold labels (JSONL or CSV)."),
    patterns: Path = PATTERNS_OPTION,
    themes: Path = THEMES_OPTION,
    out: Optional[Path] = typer.Option(None, "--out", "-o", **FILE_OPTION, help="Write the Markdown report here "
                                       "(default: print it)."),
    json_out: Optional[Path] = typer.Option(None, "--json", **FILE_OPTION, help="Also write the figures as JSON."),
) -> None:
    """Measure every rule against the gold labels: coverage, precision, recall,
    overlaps, conflicts, rules that never fire; per theme P/R/F1 of the rules alone.

    Example:

    \b
        safeguarding-themes rules report --out reports/rules.md --json reports/rules.json
    """
    from .outputs import check_outputs
    from .rules_report import run_rules_report
    from .themes import load_taxonomy

    check_outputs([("--out", out), ("--json", json_out)], [gold, patterns, themes])
    text, summary = run_rules_report(gold, patterns, load_taxonomy(themes), out, json_out)
    if out is None:
        typer.echo(text)
    else:
        say(summary)


def main() -> None:
    from .blas import pin_openblas_kernels
    from .interrupts import terminate_as_ctrl_c

    # before any command imports numpy: the same models on every machine (see blas.py)
    pin_openblas_kernels()
    terminate_as_ctrl_c()
    try:
        app()
    except KeyboardInterrupt:  # raised outside a command (e.g. while importing)
        say("safeguarding-themes: interrupted")
        sys.exit(interrupted_exit_code())


if __name__ == "__main__":
    main()
