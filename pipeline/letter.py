"""Letter metadata: kind of document, authority, dates and inspector.

Read from the wording the document templates use; a field the text does not
give is None. Obvious slips in the documents (a January letter dated with the
previous year, before the visit it reports) are corrected with a warning.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from . import authorities

MONTHS = {m: i + 1 for i, m in enumerate(
    ["january", "february", "march", "april", "may", "june", "july", "august", "september",
     "october", "november", "december"])}
_MONTH = r"(?:January|February|March|April|May|June|July|August|September|October|November|December)"
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
_DATE = rf"{_DAY}\s+{_MONTH}\s+(?:19|20)\d\d"
_DATE_LINE = re.compile(rf"^\s*({_DATE})\s*$", re.I | re.M)
_SINGLE = re.compile(rf"({_DAY})\s+({_MONTH})\s+((?:19|20)\d\d)", re.I)
_APOS = "['’]"


@dataclass
class LetterInfo:
    kind: str = "other"
    authority: str | None = None
    letter_date: str | None = None
    inspection_start: str | None = None
    inspection_end: str | None = None
    inspector: str | None = None
    warnings: list[str] = field(default_factory=list)


def parse_date(day: str, month: str, year: str) -> dt.date | None:
    try:
        return dt.date(int(year), MONTHS[month.lower()], int(re.sub(r"\D", "", day)))
    except (ValueError, KeyError):
        return None


def detect_kind(head: str, text: str) -> str:
    low = " ".join(head.lower().split())
    if re.search(r"unannounced inspection of contact,? referral and assessment", low):
        return "unannounced_inspection"
    if (re.search(rf"inspection of (?:services for children in need|children{_APOS}s social care)",
                  low[:700])
            or re.match(rf"\W*inspection of .{{0,80}}local authority children{_APOS}s services", low)):
        return "inspection_report"
    if re.search(r"monitoring visit (?:to|of)\b", low):
        return "monitoring_visit"
    if re.search(r"focused visit to\b", low):
        return "focused_visit"
    if re.search(rf"inspection of (?:services for children in need|children{_APOS}s social care|"
                 rf".{{0,80}}local\s+authority\s+children{_APOS}s\s+services)", low):
        return "inspection_report"
    if re.search(r"\b(?:ofsted (?:has )?said|said ofsted|ofsted (?:highlighted|found|reported)|"
                 r"the report (?:warns|highlights|outlined|concluded|found))", text.lower()):
        return "press_summary"
    return "other"


_AUTHORITY_PATTERNS = [
    re.compile(rf"referral and assessment arrangements within\s+(?:the\s+)?(.{{2,90}}?)"
               rf"(?:{_APOS}s)?\s+children{_APOS}s services", re.I | re.S),
    re.compile(rf"(?:focused|monitoring) visit to\s+(.{{2,90}}?)\s*(?:local\s+authority\s+)?"
               rf"children{_APOS}s\s+services", re.I | re.S),
    re.compile(rf"^\s*Inspection of\s+(.{{2,90}}?)\s+local\s+authority\s+children{_APOS}s\s+services",
               re.I | re.S),
]
# Title page of reports 2014-2020: the authority on a line of its own above the title.
_TITLE_ABOVE = re.compile(
    rf"^\s*([A-Z][^\n]{{1,60}}?(?:\n[A-Z][a-z][^\n]{{0,30}})?)\s*\n\s*Inspection of "
    rf"(?:services for children|children{_APOS}s social care services)",
    re.M,
)


def detect_authority(head: str, text: str, kind: str) -> str | None:
    for pattern in _AUTHORITY_PATTERNS:
        match = pattern.search(head)
        if match:
            return authorities.canonical(match.group(1))
    match = _TITLE_ABOVE.search(head) or _TITLE_ABOVE.search(text[-3000:])
    if match:
        return authorities.canonical(match.group(1))
    # Press summaries (and documents of no known kind) name the authority in passing,
    # "... at Swindon ..."; a letter whose own patterns fail is better left without one.
    if kind in ("press_summary", "other"):
        return authorities.find_in(text[:3000])
    return None


_DAY_TOKEN = re.compile(rf"\s*({_DAY})(?:\s+({_MONTH}))?(?:\s+((?:19|20)\d\d))?", re.I)
_CONNECTOR = re.compile(r"\s*(?:,\s*and|,|and|to|–|-|until)\s*", re.I)


def parse_date_list(window: str) -> tuple[dt.date | None, dt.date | None]:
    """First and last day of "29 and 30 September, and 1 October 2020" and the like.

    Days take the month and year given after them, as English writes ranges.
    """
    tokens = []
    pos = 0
    while True:
        match = _DAY_TOKEN.match(window, pos)
        if not match:
            break
        tokens.append(list(match.groups()))
        pos = match.end()
        link = _CONNECTOR.match(window, pos)
        if not link:
            break
        if tokens[-1][2]:
            # A year closes the list unless a second full date follows:
            # "3 December 2018 to 14 December 2018".
            after = _DAY_TOKEN.match(window, link.end())
            if not (after and after.group(2) and after.group(3)):
                break
        pos = link.end()
    if not tokens or not tokens[-1][1] or not tokens[-1][2]:
        return None, None
    for i in range(len(tokens) - 2, -1, -1):
        tokens[i][1] = tokens[i][1] or tokens[i + 1][1]
        tokens[i][2] = tokens[i][2] or tokens[i + 1][2]
    return parse_date(*tokens[0]), parse_date(*tokens[-1])


def detect_dates(head: str, kind: str, info: LetterInfo) -> None:
    letter = None
    published = re.search(rf"Report published:?\s*({_DATE})", head, re.I)
    if published:
        letter = _SINGLE.search(published.group(1))
    elif kind in ("unannounced_inspection", "focused_visit", "monitoring_visit"):
        # The letter's date stands on a line of its own near the top.
        for match in _DATE_LINE.finditer(head[:2500]):
            letter = _SINGLE.search(match.group(1))
            break
    letter_date = parse_date(*letter.groups()) if letter else None

    start = end = None
    cue = re.search(
        rf"(?:Inspection dates?:?|conducted on|carried out on|visit to .{{0,120}}?\bon|"
        rf"children{_APOS}s services (?:on|between)|services on|between)\s*",
        head, re.I | re.S)
    if cue:
        start, end = parse_date_list(head[cue.end(): cue.end() + 160])

    if start and end and start.year != end.year:
        fixed = start.replace(year=end.year) if not (start.month == 2 and start.day == 29) else None
        if fixed and fixed <= end and (end - fixed).days <= 31 and (end - start).days > 60:
            info.warnings.append(
                f"inspection dates {start:%d %B %Y} to {end:%d %B %Y} span a year; "
                f"read the start as {fixed:%d %B %Y}")
            start = fixed
    if letter_date and end and letter_date < end and kind != "inspection_report":
        try:
            fixed = letter_date.replace(year=letter_date.year + 1)
        except ValueError:
            fixed = None
        if fixed and fixed >= end and (fixed - end).days <= 120:
            info.warnings.append(
                f"letter dated {letter_date:%d %B %Y}, before the visit it reports "
                f"(ending {end:%d %B %Y}); read as {fixed:%d %B %Y}")
            letter_date = fixed
    info.letter_date = letter_date.isoformat() if letter_date else None
    info.inspection_start = start.isoformat() if start else None
    info.inspection_end = end.isoformat() if end else None


_UPPER = "A-ZÀ-ÖØ-Þ"
_WORD = r"[^\W\d_’'\-]*(?:[’'\-][^\W\d_]+)*"
# A personal name: two to four words, each capitalised (or a "d'" particle).
_NAME = rf"[{_UPPER}]{_WORD}(?: +(?:[{_UPPER}]|[a-z]{{1,3}}[’'])[^\W\d_]*{_WORD}){{1,3}}"


_NOT_NAME = {"HMI", "Her", "His", "Deputy", "Lead", "Team", "Inspector", "Majesty", "Majesty’s",
             "Majesty's", "Ofsted"}


def _clean_name(name: str) -> str | None:
    words = name.split()
    while words and words[-1] in _NOT_NAME:
        words.pop()
    return " ".join(words) if len(words) >= 2 else None


def detect_inspector(text: str) -> str | None:
    lead = re.search(rf"Lead inspector:?[ \t]*({_NAME})", text)
    if lead:
        return _clean_name(lead.group(1))
    sign = re.search(rf"Yours? (?:sincerely|faithfully),?[ \t]*\n(?:[ \t]*\n)*[ \t]*({_NAME})", text)
    if sign:
        return _clean_name(sign.group(1))
    # No "Yours sincerely": the name line above the signature's title.
    titled = list(re.finditer(rf"^[ \t]*({_NAME})[ \t]*\n[ \t]*(?:Her|His) Majesty{_APOS}s Inspector",
                              text[-2000:], re.M))
    if titled:
        return _clean_name(titled[-1].group(1))
    return None


def read_letter_info(text: str) -> LetterInfo:
    head = text[:6000]
    info = LetterInfo()
    info.kind = detect_kind(head, text)
    info.authority = detect_authority(head, text, info.kind)
    detect_dates(head, info.kind, info)
    info.inspector = detect_inspector(text)
    return info
