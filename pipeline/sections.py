"""The headings real Ofsted documents use, and what each means for its findings.

A section has a *mode*:
- ``fixed``: a list whose findings all take the heading's judgement (one finding
  per bullet or per paragraph standing in the list);
- ``narrative``: paragraphs split into sentences (bullets stay whole), each
  judged from its own wording;
- ``context``: information that judges nothing (local authority facts, what
  the judgements mean, the inspection team) - no findings;
- ``preamble`` / ``end``: before the findings start and after the sign-off.

Headings are matched on their normalised text (lower case, straight quotes,
single spaces) and must match whole, so a sentence that merely begins with the
words of a heading is never taken for one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SectionRule:
    pattern: re.Pattern
    mode: str                     # fixed | narrative | context | end | preamble
    judgement: str | None = None  # for fixed sections
    level: int = 1                # 2: may nest under a level-1 judgement area


GRADE = (r"(?:outstanding|good|adequate|inadequate|requires improvement(?: to be good)?|"
         r"require improvement(?: to be good)?)")
_GRADE_TAIL = rf"(?:\s*[:\-–]\s*|\s+is that (?:it|they) (?:is |are )?|\s+(?:is|are)\s+|\s+)({GRADE})"

# Judgement areas of inspection reports; the grade may follow on the same line.
_AREA = (
    r"(?:the )?(?:"
    r"experiences? and progress of (?:"
    r"children who need help and protection|"
    r"children (?:looked after|in care)(?: and achieving permanence| and care leavers)?|"
    r"(?:children and young people|young people) (?:looked after|in care|leaving care)|"
    r"care leavers)|"
    r"impact of leaders on social work practice(?: with children and families)?|"
    r"leadership,? management and governance|"
    r"graded judg(?:e)?ment (?:for|about) (?:the )?(?:adoption performance|experiences? and progress "
    r"of care leavers)|"
    r"adoption performance|"
    r"(?:the )?local safeguarding children board(?: \(lscb\))?|"
    r"(?:the )?effectiveness of the (?:lscb|local safeguarding children board(?: \(lscb\))?)|"
    r"overall effectiveness"
    r")"
)
AREA_RE = re.compile(rf"({_AREA})(?:{_GRADE_TAIL})?")


def _rule(pattern: str, mode: str, judgement: str | None = None, level: int = 1) -> SectionRule:
    return SectionRule(re.compile(pattern), mode, judgement, level)


RULES: tuple[SectionRule, ...] = (
    # 2009-2012 unannounced inspection letters
    _rule(r"(?:key )?strengths?|(?:the )?(?:local authority|lscb|board|council)'?s? strengths|"
          r"(?:the )?(?:local authority|lscb|board|council) has the following (?:key )?strengths:?|"
          r"(?:key )?areas? of strength:?",
          "fixed", "strength", 2),
    _rule(r"(?:the )?service meets the requirements of statutory guidance in the following areas?:?",
          "fixed", "meets_requirements"),
    _rule(r".{0,160}\bwere delivered satisfactorily\b.{0,120}(?:in particular)?:?", "fixed",
          "meets_requirements"),
    _rule(r"(?:key )?areas? for development:?", "fixed", "development", 2),
    _rule(r"areas? for improvement:?", "fixed", "development", 2),
    _rule(r"areas?\s*\(?s?\)? for priority action:?|priority and immediate action", "fixed",
          "priority_action", 2),
    _rule(r"what needs to improve(?: in this area of social work practice| to be good| to become good"
          r"| in (?:this|these) areas?(?: of social work practice)?)?\s*\??:?", "fixed", "development"),
    _rule(r"what does the local authority need to (?:do to )?improve\??", "fixed", "development"),
    _rule(r"recommendations?:?", "fixed", "development", 2),
    # focused visits, reports
    _rule(r"headline findings|overview|main findings|summary of key findings|"
          r"summary for children and young people|practice findings|evaluation of progress",
          "narrative"),
    # "progress since the last inspection" follows a list of strengths (2014-15) but is
    # mixed: judged by wording, not by the list above
    # "executive summary" nests under the judgement area it follows (the LSCB's, 2015-16)
    _rule(r"summary|summary of findings|executive summary|findings|progress since the (?:last|previous) inspection|"
          r"inspection findings(?: [-–] the local safeguarding children board)?|"
          r"key strengths and weaknesses of the lscb|"
          r"inspection judg(?:e)?ment about the (?:lscb|local safeguarding children board)", "narrative", None, 2),
    # context that judges nothing
    _rule(r"(?:the )?local authority|information about this (?:local authority )?area|"
          r"information about this local authority area|previous ofsted inspections|"
          r"other ofsted inspections|local leadership|children living in this area|"
          r"child protection in this area|children looked after in this area|"
          r"other information about this area|information about this inspection|"
          r"the inspection team|contents|judgement grade|"
          r"what the inspection judg(?:e)?ments mean(?::? the (?:local authority|lscb))?|"
          r"inspection judg(?:e)?ments about the (?:local authority|lscb)|"
          r"the inspection judgements and what they mean|about this inspection|"
          r"inspection judgements? and what (?:they|it) means?|local authority information",
          "context"),
    _rule(r"yours (?:sincerely|faithfully),?", "end"),
)


# The footnote of every area for improvement since 2025 (its number may be lost): in a
# PDF dropped at the page's foot (pdf.py), in other copies as template (BOILERPLATE).
AREAS_FOOTNOTE = (r"(?:\d{1,2}\s+)?The areas? for improvement (?:have|has) been cross-referenced "
                  r"with the outcomes")

_ANY_RULE = re.compile("|".join(f"(?P<r{i}>{rule.pattern.pattern})" for i, rule in enumerate(RULES)))


def normalise_heading(text: str) -> str:
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    text = " ".join(text.lower().split()).strip(" .")
    # A footnote marker glued to the heading: "What needs to improve?1"
    return re.sub(r"(?<=[a-z?:)])\d{1,2}$", "", text)


@dataclass
class HeadingMatch:
    rule: SectionRule | None      # None for a judgement area
    area: bool
    grade: str | None


def match_heading(text: str) -> HeadingMatch | None:
    """The catalogue entry the whole of ``text`` matches, if any."""
    norm = normalise_heading(text)
    if not norm or len(norm) > 300:
        return None
    area = AREA_RE.fullmatch(norm)
    if area:
        return HeadingMatch(None, True, area.group(2))
    found = _ANY_RULE.fullmatch(norm)
    if found is None:
        return None
    # the first rule in order that matches the whole text, as trying them one by one
    # (every line of a document is tried: one expression is a tenth of the time)
    return HeadingMatch(RULES[int(found.lastgroup[1:])], False, None)


GRADE_LINE = re.compile(rf"\s*(?:is that (?:it|they) (?:is |are )?|is |are )?{GRADE}\.?\s*", re.I)


def grade_name(text: str | None) -> str | None:
    """A grade as a stable value: outstanding, good, requires_improvement, inadequate."""
    if not text:
        return None
    low = text.lower()
    for name in ("outstanding", "inadequate", "good"):
        if low.startswith(name) or low.endswith(name) and "improvement" not in low:
            return name
    if "improvement" in low:
        return "requires_improvement"
    if "adequate" in low:
        return "adequate"
    return None


class Template:
    """Template wording: alternatives that must start the text, and alternatives that
    may stand anywhere in it. The second are only searched for where one of their
    ``keys`` (lower-case words each of them contains) is in the text: a regular
    expression of many alternatives tried at every character cost as much as the rest
    of segmentation, a substring test next to nothing."""

    def __init__(self, start: str, anywhere: str, keys: tuple[str, ...]):
        self.start = re.compile(start, re.I)
        self.anywhere = re.compile(anywhere, re.I)
        self.keys = keys

    def search(self, text: str) -> re.Match | None:
        found = self.start.match(text)
        if found is None:
            # the expression's case-insensitive match also takes "ı" and "İ" for "i",
            # "ſ" for "s" and the Kelvin sign for "k": so must the key test
            folded = text.translate(_FOLD_TO_ASCII).lower()
            if any(key in folded for key in self.keys):
                found = self.anywhere.search(text)
        return found


_FOLD_TO_ASCII = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})


# Paragraphs that are template text, never findings. The first group also ends
# the findings: what follows is sign-off, copy list or back matter.
ENDING = Template(
    r"(?:ofsted will take the findings|yours (?:sincerely|faithfully)|i am copying this letter|"
    r"we are copying this letter|this letter will be published|"
    r"the office for standards in education|copy:|cc:|© crown copyright)",
    # web-page footers and credits of saved pages
    r"\b(?:website design(?:ed)? by|web design by|market research by|all rights reserved|"
    r"privacy (?:policy|notice)|cookie (?:policy|settings)|terms (?:and|&) conditions|back to top|"
    r"share this page|is this page useful)\b",
    keys=("design", "research", "rights", "privacy", "cookie", "conditions", "top", "share",
          "useful"),
)
# Footer phrases that are inspectors' words too ("... by managing pay rates, and terms
# and conditions."): such a sentence had ended a report's findings 30 sentences early.
# They end the findings only as a footer line: short, the phrase an item of it (at its
# start or after a separator), and the line not ending as a sentence or a clause does.
_ALSO_PROSE = re.compile(r"privacy (?:policy|notice)|terms (?:and|&) conditions", re.I)
_FOOTER_ITEM = re.compile(rf"(?:^|[|•·/]|\s[-–]\s)\s*(?:{_ALSO_PROSE.pattern})", re.I)
_SENTENCE_END = (".", ")", "?", "!", ";", ":", ",")
FOOTER_WORDS = 25


def ends_findings(text: str) -> bool:
    """Whether ``text`` ends the findings: the letter's closing wording, or a saved web
    page's footer."""
    found = ENDING.search(text)
    if found is None:
        return False
    if found.re is ENDING.start or any(not _ALSO_PROSE.fullmatch(m.group(0))
                                        for m in ENDING.anywhere.finditer(text)):
        return True
    line = text.strip().rstrip("\"'’”")
    return (_FOOTER_ITEM.search(line) is not None and not line.endswith(_SENTENCE_END)
            and len(line.split()) <= FOOTER_WORDS)


BOILERPLATE = Template(
    r"(?:we have notified the department for education|"
    r"if you would like a copy|you may (?:re-?use|copy) (?:this information|all or parts)|"
    r"interested in our work|this (?:report|publication) is available at|"
    r"from the evidence gathered,? the following|"
    # the inspection's legal basis and method
    r"this letter (?:summarises|contains|sets out)|"
    r"(?:it|this) will contribute to (?:the |ofsted['’]s )?annual\b|i would like to thank|"
    r"(?:this visit|the methodology for this visit) was (?:carried out )?in line with|"
    r"(?:her|his) majesty['’]s chief inspector of education|"
    r"the inspection identified (?:areas of strength|one area|a number of areas|no areas)|"
    # whole, so that a paragraph going on after them keeps its findings
    r"no areas? (?:were|was|have been|has been) identified for (?:immediate|priority)[^.;:]*[.;]?\s*$|"
    # the grade of an LSCB as its definition words it ("... are good"), and what a grade means
    r"the arrangements in place to evaluate the effectiveness of what is done by the authority[^.]*\.?\s*$|"
    rf"an? (?:lscb|local safeguarding children board|local authority) that (?:is |are )?{GRADE}\b|"
    # the footnote of areas for improvement since 2025, in a copy that is not a PDF
    rf"{AREAS_FOOTNOTE}|"
    r"this statutory guidance sets out the purpose)",
    r"will be specifically considered in (?:any|the) (?:future|next) inspection|"
    r"carried out under section \d+|"
    r"\bidentified the following areas? for priority action",
    keys=("considered", "section", "priority"),
)
