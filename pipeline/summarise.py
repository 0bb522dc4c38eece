"""Stage: theme summaries of tagged findings, in the forms analysts use.

Tables (each as CSV, and together as one XLSX with a sheet per table):

- ``themes``: per theme, findings by judgement and the share of letters citing it;
- ``authority_theme``: per local authority, findings per theme;
- ``year_theme``: per year of the letter, findings per theme and letters;
- ``typical_findings``: per theme, its most typical findings with their evidence.

The same figures as JSON, a Markdown report, and a self-contained HTML report
(one file: inline SVG charts and styles, no script, no network).
"""

from __future__ import annotations

import calendar
import hashlib
import io
import json
import math
import re
import tempfile
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .errors import InputError, OutputError, ParamsError
from .judgement import JUDGEMENTS, judgement_id
from .labelset import iter_rows
from .outputs import counted, csv_text, json_text, output_error, write_files_together
from .surrogates import HALF_A_CHARACTER, WHOLE_CHARACTER, has_lone_surrogate, printable
from .themes import Taxonomy

UNKNOWN = "(not stated)"
TABLES = ("themes", "authority_theme", "year_theme", "typical_findings")
OUTPUT_FILES = tuple(f"{name}.csv" for name in TABLES) + ("summary.xlsx", "summary.json", "report.md",
                                                         "report.html")


# ----------------------------------------------------------------- reading and filters

# fields of a tagged finding that hold text (a number, as a hand-made file may give
# an id, is read as its text)
_TEXT_FIELDS = ("id", "letter_id", "source", "authority", "kind", "letter_date",
                "inspection_start", "inspection_end", "inspector", "section", "subsection")


def check_tagged_path(path: Path) -> None:
    """A tagged file 'summarise' can read (a folder or another kind of file is refused
    before the filters are checked or any line read)."""
    if path.is_dir():
        raise InputError("is a folder, not a file", path=str(path),
                         fix="give the JSONL or CSV output of 'safeguarding-themes tag'")
    if path.suffix.lower() not in (".jsonl", ".json", ".csv", ".ndjson"):
        raise InputError(f"cannot read a {path.suffix} file here" if path.suffix
                         else "cannot read a file without an extension here",
                         path=str(path), fix="give the JSONL or CSV output of 'safeguarding-themes tag'")


def iter_tagged(path: Path, taxonomy: Taxonomy | None = None) -> Iterator[dict]:
    """The tagged findings (JSONL or CSV from 'tag'), one at a time, each checked field
    by field: a value of the wrong type is an error naming the line, never a traceback
    or a silently wrong figure. Theme ids must be the taxonomy's, judgements are read
    case aside, and a theme given twice counts once. The path is checked at the call,
    before any line is read."""
    path = Path(path)
    check_tagged_path(path)
    return _checked_rows(path, taxonomy)


def _checked_rows(path: Path, taxonomy: Taxonomy | None) -> Iterator[dict]:
    for line, row in iter_rows(path):
        if "themes" not in row or "text" not in row:
            raise InputError("not a tagged finding (no 'themes' or 'text')", path=str(path), line=line,
                             fix="give the output of 'safeguarding-themes tag'")
        _check_record(row, path, line, taxonomy)
        row["_line"] = line
        yield row


def _check_record(row: dict, path: Path, line: int, taxonomy: Taxonomy | None) -> None:
    def bad(message: str, fix: str = "give the output of 'safeguarding-themes tag'"):
        return InputError(message, path=str(path), line=line, fix=fix)

    if not isinstance(row["text"], str) or not row["text"].strip():
        raise bad("no finding text" if row["text"] in (None, "") else "'text' is not text")
    for key in _TEXT_FIELDS:
        value = row.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            row[key] = str(value)
        elif value is not None and not isinstance(value, str):
            raise bad(f"'{key}' is not text (it is {type(value).__name__})")
    themes = row["themes"]
    if themes is None:
        themes = []
    if isinstance(themes, str):
        # "timeliness; thresholds" as typed in a spreadsheet is the two themes (a comma
        # separates them too, as 'labels import' reads them: no theme id holds one)
        themes = [t.strip() for t in themes.replace(",", ";").split(";") if t.strip()]
    if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
        raise bad("'themes' is not a list of theme ids")
    themes = list(dict.fromkeys(t.strip() for t in themes))
    if taxonomy is not None:
        unknown = [t for t in themes if t not in taxonomy.ids]
        if unknown:
            raise bad(f"unknown theme {unknown[0]!r}",
                      fix=f"theme ids are those of {taxonomy.path} (give the taxonomy the file was "
                          "tagged with by --themes)")
    row["themes"] = themes
    judgement = row.get("judgement")
    if judgement is not None and not isinstance(judgement, str):
        raise bad(f"'judgement' is not text (it is {type(judgement).__name__})")
    if judgement is not None and judgement.strip():
        wanted = judgement_id(judgement)
        if wanted not in JUDGEMENTS:
            raise bad(f"unknown judgement {judgement!r}", fix=f"use one of {', '.join(JUDGEMENTS)}")
        row["judgement"] = wanted
    else:
        row["judgement"] = None
    for key in ("scores", "evidence"):
        value = row.get(key)
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else {}
            except ValueError:
                raise bad(f"column '{key}' is not JSON") from None
            if has_lone_surrogate(value, json_text=row[key]):
                raise bad(f"column '{key}': {HALF_A_CHARACTER}", fix=WHOLE_CHARACTER)
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise bad(f"'{key}' is not an object of themes")
        row[key] = value
    for theme, score in row["scores"].items():
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not _finite(score):
            raise bad(f"the score of {theme!r} is not a number ({_shown(score)})")
        if not 0 <= score <= 1:
            # a score ranks the typical findings: one of 7 from another program would
            # put its finding first, unseen
            raise bad(f"the score of {theme!r} is not between 0 and 1 ({_shown(score)})",
                      fix="scores are the tagger's probabilities, from 0 to 1; give the output of "
                          "'safeguarding-themes tag'")
    for theme, spans in row["evidence"].items():
        if not isinstance(spans, list):
            raise bad(f"the evidence of {theme!r} is not a list of spans")
        for span in spans:
            if not isinstance(span, dict) or not all(
                    isinstance(span.get(k), int) and not isinstance(span.get(k), bool)
                    for k in ("start", "end")):
                raise bad(f"an evidence span of {theme!r} has no whole-number 'start' and 'end'")
    letter_period(row)   # dated once; a date not understood is kept for the warning


def _finite(number: int | float) -> bool:
    try:
        return math.isfinite(number)
    except OverflowError:   # an integer too large for a float
        return False


def _shown(value) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_day(value: str, end: bool, option: str) -> date:
    """2019, 2019-06 or 2019-06-30; a year or month given alone covers all its days."""
    period = _period(value.strip())
    if period is None:
        raise ParamsError(f"{option} {value!r} is not a date",
                          fix="give YYYY, YYYY-MM or YYYY-MM-DD, e.g. --since 2019-04")
    return period[1] if end else period[0]


def _period(value: str) -> tuple[date, date] | None:
    """The first and last day of YYYY, YYYY-MM or YYYY-MM-DD; None if it is none of them."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    try:
        if not match:
            return None
        year, month, day = int(match[1]), match[2], match[3]
        if month is None:
            return date(year, 1, 1), date(year, 12, 31)
        if day is None:
            first = date(year, int(month), 1)   # checks the month
            return first, first.replace(day=calendar.monthrange(year, int(month))[1])
        one = date(year, int(month), int(day))
        return one, one
    except ValueError:
        return None


# Ofsted was founded in 1992: an earlier year in a letter's date is a typing error
FIRST_YEAR, LAST_YEAR = 1992, 2100
_UK_DATE = re.compile(r"(\d{1,2})[/.](\d{1,2})[/.](\d{4})")


def record_period(value) -> tuple[date, date] | None | bool:
    """A finding's date field as the days it covers: ISO (YYYY-MM-DD, with or without
    a time; YYYY-MM and YYYY cover their days) or, as a spreadsheet in an English locale
    saves it, DD/MM/YYYY (with or without a time). None: no date given; False: a value
    that is not a date, or one before Ofsted or after 2100."""
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    head = re.split(r"[T ]", text, maxsplit=1)[0]
    period = _period(head)
    uk = _UK_DATE.fullmatch(head)
    if period is None and uk:
        try:
            one = date(int(uk[3]), int(uk[2]), int(uk[1]))
            period = (one, one)
        except ValueError:
            period = None
    if period is None or not FIRST_YEAR <= period[0].year <= LAST_YEAR:
        return False
    return period


_DATE_FIELDS = ("letter_date", "inspection_end", "inspection_start")


def _dated(record: dict) -> tuple[tuple[date, date] | None, str | None]:
    """The letter's days (for a report, which states only when the inspection was, its
    last day, then its first), and the first date value that was not understood."""
    found, bad = None, None
    for key in _DATE_FIELDS:
        period = record_period(record.get(key))
        if period is False:
            bad = bad or str(record.get(key))
        elif period is not None and found is None:
            found = period
    return found, bad


@dataclass
class Filters:
    authorities: Sequence[str] = ()
    kinds: Sequence[str] = ()
    judgements: Sequence[str] = ()
    since: str | None = None
    until: str | None = None
    themes: Sequence[str] = ()

    def __post_init__(self) -> None:
        # a byte that is not UTF-8 on the command line reaches Python as half of a
        # character, which no report could write: refused before anything is read
        for option, values in (("--authority", self.authorities), ("--kind", self.kinds),
                               ("--judgement", self.judgements), ("--theme", self.themes),
                               ("--since", [self.since]), ("--until", [self.until])):
            for given in values:
                if given is not None and has_lone_surrogate(given):
                    raise ParamsError(f"{option} '{printable(given)}' is not text in UTF-8",
                                      fix="type it in UTF-8: set the terminal's encoding to UTF-8, "
                                          "or copy the value from the tagged file")

    def describe(self, taxonomy: Taxonomy) -> dict:
        """The filters as recorded; ``taxonomy`` is what ``self.taxonomy()`` gave, so that themes are
        recorded as resolved (ids, not the words typed)."""
        return {"authority": sorted(self.authorities), "kind": sorted(self.kinds),
                "judgement": sorted(self.judgements), "since": self.since, "until": self.until,
                "theme": list(taxonomy.ids) if self.themes else []}

    def taxonomy(self, taxonomy: Taxonomy) -> Taxonomy:
        """The themes summarised: the taxonomy's, or those of --theme (by id or by name)."""
        if not self.themes:
            return taxonomy
        wanted = set()
        for given in self.themes:
            found = [t.id for t in taxonomy.themes if match_key(given) in (match_key(t.id), match_key(t.name))]
            if not found:
                raise ParamsError(f"--theme {given!r} is not a theme of {taxonomy.path}",
                                  fix=f"use an id or name of {', '.join(taxonomy.ids)}")
            wanted.update(found)
        return Taxonomy(tuple(t for t in taxonomy.themes if t.id in wanted), taxonomy.path)

    def resolve(self) -> "Scope":
        """The filters checked and read: judgements by id, dates as days, names as matched."""
        judgements = set()
        for given in self.judgements:
            judgement = judgement_id(given)   # "Priority action", as the file may say it
            if judgement not in JUDGEMENTS:
                raise ParamsError(f"--judgement {given!r} is not a judgement",
                                  fix=f"use one of {', '.join(JUDGEMENTS)}")
            judgements.add(judgement)
        since = parse_day(self.since, False, "--since") if self.since is not None else None
        until = parse_day(self.until, True, "--until") if self.until is not None else None
        if since and until and since > until:
            raise ParamsError(f"--since {self.since} is after --until {self.until}",
                              fix="swap them, or check the years")
        return Scope(frozenset(match_key(a) for a in self.authorities),
                     frozenset(match_key(k) for k in self.kinds), frozenset(judgements), since, until)


@dataclass(frozen=True)
class Scope:
    """The filters as a finding is tested against them. A letter is in scope when it
    passes the letter filters (authority, kind, dates), whatever its findings'
    judgements, so that a share of letters keeps its meaning under --judgement."""
    authorities: frozenset[str]
    kinds: frozenset[str]
    judgements: frozenset[str]
    since: date | None
    until: date | None

    def letter_passes(self, authority: str, kind: str) -> bool:
        """``authority`` and ``kind`` as ``match_key`` gives them."""
        return (not self.authorities or authority in self.authorities) and (
            not self.kinds or kind in self.kinds)

    def dated_in(self, period: tuple[date, date] | None) -> bool:
        """Whether the letter's days pass --since/--until; a letter dated only by its
        month or year passes if they overlap, and one without a date does not."""
        if not (self.since or self.until):
            return True
        return period is not None and not (self.since and period[1] < self.since) and not (
            self.until and period[0] > self.until)

    def judged_in(self, record: dict) -> bool:
        return not self.judgements or judgement_of(record) in self.judgements


def match_key(value) -> str:
    """How a filter value and a field are compared: case and spacing aside."""
    return " ".join(str(value or "").split()).lower()


def judgement_of(record: dict) -> str:
    """The finding's judgement; one the taxonomy of judgements does not know counts as neutral."""
    judgement = record.get("judgement")
    return judgement if judgement in JUDGEMENTS else "neutral"


def letter_period(record: dict) -> tuple[date, date] | None:
    """The days the letter's date covers (one day, unless it gives only a month or year)."""
    if "_period" not in record:
        record["_period"], record["_bad_date"] = _dated(record)
    return record["_period"]


def year_of(record: dict) -> str:
    period = letter_period(record)
    return str(period[0].year) if period else UNKNOWN


def letter_of(record: dict) -> str:
    """The letter a finding is from: by the letter's content hash where the finding
    gives it (two letters of one name, tagged apart and joined, stay two), else by its
    id and file. A finding that names none (a spreadsheet row tagged with --findings,
    without a letter_id column) counts as a letter of its own."""
    sha256 = record.get("sha256")
    if isinstance(sha256, str) and sha256.strip():
        return "sha256:" + sha256.strip()
    if record.get("letter_id") or record.get("source"):
        return f"letter:{record.get('letter_id') or ''}\x1f{record.get('source') or ''}"
    return f"line:{record.get('_line')}"


# ----------------------------------------------------------------- tables

@dataclass
class Summary:
    taxonomy: Taxonomy
    filters: dict
    findings: int = 0              # findings kept by the filters
    letters: int = 0               # letters that pass the letter filters
    letters_with_findings: int = 0   # letters some kept finding is from: fewer under --judgement
    themes_tagged: int = 0
    undated_left_out: int = 0      # findings a date filter left out for having no date
    letters_by_year: dict[str, int] = field(default_factory=dict)   # letters in scope, by year
    citing: dict[tuple[str, str], int] = field(default_factory=dict)   # (year, theme): letters citing it
    themes: list[dict] = field(default_factory=list)
    authority_theme: list[dict] = field(default_factory=list)
    year_theme: list[dict] = field(default_factory=list)
    typical_findings: list[dict] = field(default_factory=list)

    def headline(self) -> str:
        """'N findings from M letters', saying so where shares are of more letters."""
        text = f"{counted(self.findings, 'finding')} from {counted(self.letters_with_findings, 'letter')}"
        if self.letters_with_findings != self.letters:
            text += f" (shares of letters are of the {self.letters} letters in scope)"
        return text

    def tables(self) -> dict[str, list[dict]]:
        return {name: getattr(self, name) for name in TABLES}


class Tally:
    """The figures of a summary, gathered one finding at a time.

    What it keeps grows with the letters, authorities and years of the file, not with
    its findings (but for a 16-byte key per finding, about 100 bytes with the set that
    holds it, to find repeats): 'tag' on 10,000 letters writes about 1.5 million
    findings, which as records took 12 GiB. (Findings that name no letter are each a
    letter of their own, as in a spreadsheet of findings, and grow it as letters do.)
    """

    def __init__(self, taxonomy: Taxonomy, filters: Filters, per_theme: int = 5):
        self.filters = filters
        self.per_theme = per_theme
        self.taxonomy = filters.taxonomy(taxonomy)
        self.scope_filter = filters.resolve()
        self.ids = self.taxonomy.ids
        self._summarised = frozenset(self.ids)
        self.read = 0                  # findings in the file
        self.repeated = 0              # ... left out as repeats of earlier ones
        self._seen: set[bytes] = set()
        # of every finding that is not a repeat, filters aside: for warnings and hints
        self.spelled = {name: defaultdict(Counter) for name in ("authority", "kind")}
        self.present = {name: set() for name in ("authority", "kind")}
        self.bad_dates = 0             # findings with a date that is not understood
        self.bad_dated_otherwise = 0   # ... of which another of its dates gives the days
        self.first_bad: tuple[str, int] | None = None   # (value, line)
        self.any_dated = False
        # of the filters
        self.undated_left_out = 0
        self.scope: dict[str, tuple[str, str]] = {}   # letter -> its first finding's (authority, year)
        self.all_findings = {"authority": Counter(), "year": Counter()}   # every theme's
        self.findings = 0
        self.letters_with: set[str] = set()
        self.undated = self.unnamed = self.unjudged = self.themes_tagged = 0
        self.by_judgement = {t: Counter() for t in self.ids}
        self.theme_letters: dict[str, set] = {t: set() for t in self.ids}
        self.cross = {"authority": defaultdict(Counter), "year": defaultdict(Counter)}
        self.citing: dict[tuple[str, str], set] = defaultdict(set)
        # per theme, its typical findings so far: letter -> (sort key, row), at most per_theme
        self.typical: dict[str, dict[str, tuple]] = {t: {} for t in self.ids}
        self._last: dict[str, str | None] = {}   # per theme, the letter of its last typical finding

    def add(self, record: dict) -> None:
        self.read += 1
        letter = letter_of(record)
        if self._is_repeat(record, letter):
            self.repeated += 1
            return
        authority, kind = match_key(record.get("authority")), match_key(record.get("kind"))
        self._note_values(record, authority, kind)
        period = letter_period(record)
        if record.get("_bad_date"):
            self.bad_dates += 1
            self.bad_dated_otherwise += period is not None
            self.first_bad = self.first_bad or (record["_bad_date"], record.get("_line"))
        self.any_dated = self.any_dated or period is not None

        scope = self.scope_filter
        if not scope.letter_passes(authority, kind):
            return
        judged = scope.judged_in(record)
        # under --theme, the findings of those themes; letters in scope stay those of the
        # letter filters, and an authority's or a year's findings stay all of them, so
        # that a share means the same with --theme as without
        of_themes = not self.filters.themes or not self._summarised.isdisjoint(record["themes"])
        if not scope.dated_in(period):
            self.undated_left_out += period is None and judged and of_themes
            return
        year = year_of(record)
        self.scope.setdefault(letter, (authority, year))
        if not judged:
            return
        self.all_findings["authority"][authority] += 1
        self.all_findings["year"][year] += 1
        if of_themes:
            self._keep(record, letter, authority, year, period)

    def _keep(self, record: dict, letter: str, authority: str, year: str, period) -> None:
        self.findings += 1
        self.letters_with.add(letter)
        self.undated += period is None
        self.unnamed += letter.startswith("line:")
        self.unjudged += record.get("judgement") is None
        judgement = judgement_of(record)
        scores = record.get("scores") or {}
        for theme in record["themes"]:
            if theme not in self._summarised:
                continue
            self.themes_tagged += 1
            self.by_judgement[theme][judgement] += 1
            self.theme_letters[theme].add(letter)
            self.cross["authority"][authority][theme] += 1
            self.cross["year"][year][theme] += 1
            self.citing[(year, theme)].add(letter)
            self._offer(theme, letter, record, float(scores.get(theme, 1.0)))

    def _offer(self, theme: str, letter: str, record: dict, score: float) -> None:
        """Keep the finding among the theme's typical findings if it is one of them:
        the per_theme letters with the findings most surely about the theme (highest
        score, then by id, then the earlier in the file), each letter's best finding.
        A letter left out has a best finding behind per_theme others', which only get
        better, so none of its findings is needed again: only a later, better one."""
        key = (-score, str(record.get("id")), self.findings)
        chosen = self.typical[theme]
        held = chosen.get(letter)
        if held is not None:
            if key < held[0]:
                chosen[letter] = (key, _typical_row(record, theme, score))
                self._last[theme] = None
            return
        if len(chosen) >= self.per_theme:
            last = self._last.get(theme)
            if last is None:   # found again only after the list changed, not for every finding
                last = self._last[theme] = max(chosen, key=lambda other: chosen[other][0])
            if key > chosen[last][0]:
                return
            del chosen[last]
        chosen[letter] = (key, _typical_row(record, theme, score))
        self._last[theme] = None

    def _is_repeat(self, record: dict, letter: str) -> bool:
        """A finding whose letter, offsets and text an earlier one has (one output
        appended to another with the same letters). Findings without offsets (a
        spreadsheet's rows) are never repeats."""
        start, end = _offset(record.get("start")), _offset(record.get("end"))
        if start is None or end is None:
            return False
        # the letter's length first: no letter and text, whatever they hold, read as another's
        key = hashlib.blake2b(f"{len(letter)}:{letter}{start}:{end}:{record['text']}".encode(
            "utf-8", "surrogatepass"), digest_size=16).digest()
        if key in self._seen:
            return True
        self._seen.add(key)
        return False

    def _note_values(self, record: dict, authority: str, kind: str) -> None:
        """The values of the fields filters match, and their spellings."""
        for name, key in (("authority", authority), ("kind", kind)):
            self.present[name].add(key)
            if record.get(name) and key:
                self.spelled[name][key][" ".join(str(record[name]).split())] += 1

    def spellings(self, name: str) -> dict[str, str]:
        """Per value of ``name`` as filters match it, its most common spelling in the
        file (spacing tidied; the first in order on a tie)."""
        return {key: min(counts.items(), key=lambda item: (-item[1], item[0]))[0]
                for key, counts in self.spelled[name].items()}

    def summary(self) -> Summary:
        summary = Summary(self.taxonomy, self.filters.describe(self.taxonomy), self.findings,
                          len(self.scope), len(self.letters_with), self.themes_tagged, self.undated_left_out)
        summary.letters_by_year = dict(Counter(year for _, year in self.scope.values()))
        summary.citing = {key: len(letters) for key, letters in self.citing.items()}
        summary.themes = self._theme_table()
        # "Swindon" and "SWINDON " are one authority to the filter, so one row here
        spelling = self.spellings("authority")
        summary.authority_theme = self._cross_table("authority", 0, lambda a: spelling.get(a) or UNKNOWN)
        summary.year_theme = self._cross_table("year", 1, lambda y: y)
        summary.typical_findings = self._typical()
        return summary

    def _theme_table(self) -> list[dict]:
        """Per theme: findings by judgement, and the letters in scope with at least one
        finding on it."""
        letters = len(self.scope)
        rows = []
        for theme in self.ids:
            counts, citing = self.by_judgement[theme], len(self.theme_letters[theme])
            rows.append({"theme": theme, "name": self.taxonomy.name(theme),
                         **{j: counts.get(j, 0) for j in JUDGEMENTS},
                         "findings": sum(counts.values()), "letters": citing,
                         "share_of_letters": round(citing / letters, 4) if letters else 0.0})
        return rows

    def _cross_table(self, key: str, place: int, shown) -> list[dict]:
        """Per value of ``key`` (authority, year; ``shown`` gives it as written): its
        letters in scope, all its findings, and its findings per theme."""
        letters: Counter = Counter()
        totals: Counter = Counter()
        findings: dict[str, Counter] = defaultdict(Counter)
        for where in self.scope.values():
            letters[shown(where[place])] += 1
        for value, n in self.all_findings[key].items():
            totals[shown(value)] += n
        for value, counts in self.cross[key].items():
            findings[shown(value)].update(counts)
        return [{key: k, "letters": letters[k], "findings": totals[k],
                 **{t: findings[k].get(t, 0) for t in self.ids}}
                for k in sorted(set(totals) | set(letters), key=lambda x: (x == UNKNOWN, x))]

    def _typical(self) -> list[dict]:
        """Per theme, the findings it is most surely about (highest score), one per
        letter so that one letter's repeated wording does not fill the list."""
        rows = []
        for theme in self.ids:
            chosen = sorted(self.typical[theme].values(), key=lambda held: held[0])
            rows += [{"theme": theme, "rank": rank, **row} for rank, (_, row) in enumerate(chosen, 1)]
        return rows


def _typical_row(record: dict, theme: str, score: float) -> dict:
    spans = (record.get("evidence") or {}).get(theme) or []
    # a CSV's empty cell is the JSONL's null: the same figures from either
    return {"id": record.get("id"), "letter_id": record.get("letter_id"), "authority": record.get("authority") or None,
            "letter_date": record.get("letter_date") or None, "judgement": record.get("judgement"),
            "score": round(score, 4), "evidence": "; ".join(str(s.get("text", "")) for s in spans),
            "text": record.get("text"), "_spans": spans}


def tally_of(records: Iterable[dict], taxonomy: Taxonomy, filters: Filters, per_theme: int = 5) -> Tally:
    """``records``, read one at a time, counted under ``filters``."""
    tally = Tally(taxonomy, filters, per_theme)
    for record in records:
        tally.add(record)
    return tally


def summarise(records: Iterable[dict], taxonomy: Taxonomy, filters: Filters,
              per_theme: int = 5) -> Summary:
    """The summary of ``records`` (read one at a time) under ``filters``."""
    return tally_of(records, taxonomy, filters, per_theme).summary()


# ----------------------------------------------------------------- writing

def public(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if not k.startswith("_")} for row in rows]


def xlsx_bytes(tables: dict[str, list[dict]]) -> bytes:
    """A workbook with one sheet per table, header row bold and frozen."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, rows in tables.items():
        sheet = workbook.create_sheet(name)
        columns = list(rows[0].keys()) if rows else ["(no rows)"]
        sheet.append(columns)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        for row in rows:
            sheet.append([_cell(row.get(c), c) for c in columns])
            for cell in sheet[sheet.max_row]:
                _as_text(cell)
        for i, column in enumerate(columns, 1):
            width = max([len(str(column))] + [min(len(str(row.get(column) or "")), 80) for row in rows[:200]])
            sheet.column_dimensions[sheet.cell(1, i).column_letter].width = width + 2
    # the same figures give the same bytes: fixed document dates and zip entry times
    fixed = datetime(2000, 1, 1)
    workbook.properties.created = workbook.properties.modified = fixed
    buffer = io.BytesIO()
    workbook.save(buffer)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            entry = zipfile.ZipInfo(item.filename, date_time=(2000, 1, 1, 0, 0, 0))
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            data = source.read(item.filename)
            if item.filename == "docProps/core.xml":  # openpyxl stamps the time of saving
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2000-01-01T00:00:00Z", data)
            target.writestr(entry, data)
    return out.getvalue()


_ILLEGAL_XLSX = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _cell(value, column: str = ""):
    if column == "year" and isinstance(value, str) and value.isdigit():
        return int(value)   # a number in Excel, as the other columns' counts
    # Excel refuses control characters
    return _ILLEGAL_XLSX.sub(" ", value) if isinstance(value, str) else value


def _as_text(cell) -> None:
    """Text that Excel (or openpyxl, for "=") would read as a formula stays text: a
    string cell with Excel's quote prefix, the text itself unchanged."""
    if isinstance(cell.value, str) and cell.value[:1] in ("=", "+", "-", "@"):
        cell.data_type = "s"
        cell.quotePrefix = True


def _offset(value) -> int | None:
    """A character offset, as JSONL gives it or as a CSV cell holds it."""
    if isinstance(value, str) and value.strip().isdecimal():   # not "²", which int() refuses
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def run_summarise(tagged: Path, out_dir: Path, taxonomy: Taxonomy, filters: Filters | None = None,
                  per_theme: int = 5, progress: bool = True) -> str:
    """Summarise ``tagged`` into ``out_dir``; the warnings and a one-line summary.
    The file is read one finding at a time. Every file is made before any is written,
    and they replace the folder's earlier files together: a failure leaves the folder
    as it was."""
    from .progress import progress_bar, shown
    from .report import render_html, render_markdown

    filters = filters or Filters()
    rows = iter_tagged(tagged, taxonomy)   # a folder or another kind of file: refused before the filters
    with progress_bar(rows, total=_lines(Path(tagged)) if shown(progress) else None,
                      desc="summarise", unit=" findings", enabled=progress) as findings:
        tally = tally_of(findings, taxonomy, filters, per_theme)   # kept for its warnings
    if not tally.read:
        raise InputError("no tagged findings in the file", path=str(tagged),
                         fix="tag some letters first with 'safeguarding-themes tag'")
    summary = tally.summary()
    if not summary.findings:
        raise InputError(f"no finding matches the filters ({describe_filters(summary.filters)})",
                         path=str(tagged), fix=_absent_values(tally)
                         or ("no finding of those themes passes the other filters: widen them"
                             if filters.themes else "")
                         or "widen the filters; authority and kind are matched exactly, case aside")
    tables = {name: public(rows) for name, rows in summary.tables().items()}
    files = {f"{name}.csv": csv_text(rows, list(rows[0].keys()) if rows else ["theme"]).encode("utf-8")
             for name, rows in tables.items()}
    try:
        files["summary.xlsx"] = xlsx_bytes(tables)
    except OSError as exc:
        # openpyxl writes its sheets to temporary files first
        error = output_error(tempfile.gettempdir(), exc)
        raise OutputError(f"building summary.xlsx: {error.message}", path=error.path,
                          fix=error.fix) from None
    source = printable(tagged)   # a file name that is not UTF-8 is no text to write
    figures = {"source": source, "filters": summary.filters, "findings": summary.findings,
               "letters": summary.letters, "letters_with_findings": summary.letters_with_findings,
               "themes_tagged": summary.themes_tagged, **tables}
    files["summary.json"] = json_text(figures).encode("utf-8")
    files["report.md"] = render_markdown(summary, source).encode("utf-8")
    files["report.html"] = render_html(summary, source).encode("utf-8")
    write_files_together(out_dir, files)
    return "".join(f"warning: {n}\n" for n in _warnings(tally)) + (
        f"summarise: {summary.headline()} -> {out_dir} "
        f"(CSV, summary.xlsx, summary.json, report.md, report.html)")


def _lines(path: Path) -> int | None:
    """The findings of a JSONL file, for the progress bar (a second or two for a batch of
    10,000 letters); None for a CSV file, where a finding can span lines, and for what is
    not a plain file (a named pipe can be read once only)."""
    if path.suffix.lower() == ".csv" or not path.is_file():
        return None
    lines = 0
    try:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                lines += block.count(b"\n")
    except OSError:
        return None   # reading the findings says what is wrong
    return lines


def _warnings(tally: Tally) -> list[str]:
    """What the figures leave out or read in a way the user should know of."""
    filters = tally.filters
    notes = [f"no finding of --{option} {value} in the file: only the others are summarised"
             for option, value in _unmatched(tally)]
    repeated = tally.repeated
    if repeated:
        notes.append(f"{counted(repeated, 'finding')} {'repeats' if repeated == 1 else 'repeat'} one of the "
                     "same letter at the same place earlier in the file (a file joined twice?): counted once")
    bad, instead = tally.bad_dates, tally.bad_dated_otherwise
    if bad:
        # a letter date not understood gives way to the inspection's dates where the finding has them
        value, line = tally.first_bad
        notes.append(f"{counted(bad, 'finding')} {'has' if bad == 1 else 'have'} a date that is "
                     f"not understood (e.g. {value!r}, line {line})"
                     + ((", and is dated by another of its dates" if bad == 1 else
                         f"; {instead} of them {'is' if instead == 1 else 'are'} dated by another of its dates")
                        if instead else "")
                     + f": write dates as YYYY-MM-DD or DD/MM/YYYY, from {FIRST_YEAR}")
    if filters.since or filters.until:
        undated = tally.undated_left_out
        dates = f"{counted(undated, 'finding')} {'has' if undated == 1 else 'have'} no date: " \
                "left out by --since/--until"
    else:
        undated = tally.undated
        dates = f"{counted(undated, 'finding')} from letters with no date, counted as year {UNKNOWN}"
    if undated:
        notes.append(dates)
    if tally.unnamed:
        notes.append(f"{counted(tally.unnamed, 'finding')} {'names' if tally.unnamed == 1 else 'name'} no "
                     "letter (no letter_id, source or sha256): each counted as a letter")
    if tally.unjudged:
        notes.append(f"{counted(tally.unjudged, 'finding')} {'has' if tally.unjudged == 1 else 'have'} no "
                     "judgement: counted as neutral")
    return notes


_VALUE_FILTERS = (("authority", lambda f: f.authorities), ("kind", lambda f: f.kinds))


def _unmatched(tally: Tally) -> list[tuple[str, str]]:
    """(field, value) of each --authority and --kind value that no finding has."""
    return [(name, w) for name, wanted in _VALUE_FILTERS for w in wanted(tally.filters)
            if match_key(w) not in tally.present[name]]


def _absent_values(tally: Tally) -> str:
    """For a filter that matched nothing: the values the file does have."""
    notes = []
    filters = tally.filters
    unmatched = _unmatched(tally)
    for name, _ in _VALUE_FILTERS:
        missing = [value for field_name, value in unmatched if field_name == name]
        if missing:
            present = sorted(set(tally.spellings(name).values()))
            shown = ", ".join(present[:12]) + (f" and {len(present) - 12} more" if len(present) > 12 else "")
            notes.append(f"no --{name} {', '.join(missing)} in the file; it has: {shown or 'none'}")
    if (filters.since or filters.until) and not tally.any_dated:
        notes.append("no finding of the file has a date" + (
            f" that is understood (e.g. {tally.first_bad[0]!r}, line {tally.first_bad[1]}: write dates as "
            "YYYY-MM-DD or DD/MM/YYYY)" if tally.first_bad else ""))
    return "; ".join(notes)


def describe_filters(filters: dict) -> str:
    """The filters used, for messages and reports ("none" without any)."""
    parts = [f"{k} {', '.join(v) if isinstance(v, list) else v}" for k, v in filters.items() if v]
    return "; ".join(parts) or "none"
