"""Parsing a document's text into findings.

Three steps, each a plain function:

1. ``read_lines``: lines with their offsets, bullet markers and indentation;
2. ``build_blocks``: lines grouped into headings, list items and paragraphs,
   repairing what PDF extraction and page breaks do to them (a bullet broken
   by a page break, wrapped lines that begin with a space, a continuation
   sentence that belongs to the bullet above, hyphenation at line ends);
3. ``find_findings``: sections assigned from the headings (``sections.py``) and
   findings cut from the blocks of finding-bearing sections: one per bullet or
   per paragraph standing in a list, one per sentence of narrative paragraphs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from .judgement import judge_wording
from .letter import LetterInfo, read_letter_info
from .sections import (BOILERPLATE, GRADE, GRADE_LINE, HeadingMatch, ends_findings, grade_name,
                       match_heading, normalise_heading)
from .sentences import ends_with_abbreviation, sentence_spans

# ---------------------------------------------------------------- lines

_GLYPHS = "◼•▪■●◾▸►\uf06e\uf0b7\uf02d\uf0a7\uf0d8\uf076\uf0fc\uf0a8\uf0be"
_MARKER = re.compile(
    rf"^(?P<indent>[ \t]*)(?:"
    rf"(?P<glyph>[{_GLYPHS}])[ \t]*|"
    rf"(?P<dash>[-–−*])[ \t]+|"
    rf"(?P<number>\d{{1,3}})[.)](?:[ \t]+|(?=[A-Z‘'\"(]))"
    rf")"
)
# A line that ends a sentence; also an annotation line such as
# "(enabler two, national framework)" that closes the sentence above it.
_TERMINAL = re.compile(r"(?:[.!?:;][\"'’”)\]]*|[.!?]\s*\([^()]{1,60}\)[.;]?|^\s*\([^()]{1,60}\)[.;]?)\s*$")
_QUESTION_HEADING = re.compile(r"^(?:what|how|why|where|when|which|who|is|are|does|do)\b", re.I)
_PARENTHETICAL = re.compile(r"^\([^()]{1,40}\)[.;]?$")
_SENTENCE_END = re.compile(r"[.!?][\"'’”)\]]*\s*$")
# A judgement area with its grade after a colon or dash, as headings give it
# ("... help and protection: inadequate"); a sentence says "... is inadequate".
_AREA_AND_GRADE = re.compile(rf"\S\s*[:\-–]\s*{GRADE}")


@dataclass
class Line:
    index: int
    start: int          # offset of the line in the text
    end: int            # offset of its end (newline excluded, trailing space excluded)
    body_start: int     # offset of its content, after indentation and bullet marker
    marker: str | None  # glyph | dash | number | space | None
    number: str | None = None

    def body(self, text: str) -> str:
        return text[self.body_start:self.end]


def read_lines(text: str) -> list[Line | None]:
    """Every line of ``text``; None for blank lines."""
    lines: list[Line | None] = []
    pos = 0
    for index, raw in enumerate(text.split("\n")):
        start = pos
        pos += len(raw) + 1
        stripped = raw.rstrip()
        if not stripped.strip():
            lines.append(None)
            continue
        end = start + len(stripped)
        match = _MARKER.match(stripped)
        marker = number = None
        if match and match.end() < len(stripped):
            if match.group("glyph"):
                marker = "glyph"
            elif match.group("dash"):
                marker = "dash"
            else:
                marker, number = "number", match.group("number")
            body_start = start + match.end()
        else:
            indent = len(stripped) - len(stripped.lstrip())
            marker = "space" if indent else None
            body_start = start + indent
        lines.append(Line(index, start, end, body_start, marker, number))
    return lines


# ---------------------------------------------------------------- blocks

@dataclass
class Block:
    kind: str                  # heading | item | para
    lines: list[Line]
    marker: str | None = None  # marker of the first line
    heading: HeadingMatch | None = None
    grade_text: str | None = None

    @property
    def start(self) -> int:
        return self.lines[0].body_start

    @property
    def end(self) -> int:
        return self.lines[-1].end


@dataclass
class Layout:
    """What the document's line breaks mean."""
    width: int             # typical length of a wrapped line
    line_style: bool       # every line is a paragraph (seeds, DOCX, HTML, press pages)


def measure_layout(text: str, lines: list[Line | None]) -> Layout:
    """Wrapped text (PDF extraction, e-mail) has lines of a similar, limited
    width; in line-style text (the seeds, DOCX, HTML) a line is a paragraph
    and the longer lines run to hundreds of characters."""
    lengths = sorted(l.end - l.start for l in lines if l is not None)
    if not lengths:
        return Layout(width=10_000, line_style=True)
    p90 = lengths[int(len(lengths) * 0.9)]
    if p90 > 160:
        return Layout(width=10_000, line_style=True)
    return Layout(width=max(p90, 40), line_style=False)


def _starts_lower(body: str) -> bool:
    return bool(body) and body[0].islower()


def _starts_upper(body: str) -> bool:
    body = body.lstrip("‘'\"“(")
    return bool(body) and (body[0].isupper() or body[0].isdigit())


def _is_short(line: Line, layout: Layout) -> bool:
    return layout.line_style or (line.end - line.start) < 0.8 * layout.width


def _heading_at(text: str, lines: list[Line | None], i: int, layout: Layout,
                at_boundary: bool) -> tuple[int, HeadingMatch | None] | None:
    """(lines used, catalogue match or None for a generic heading) for a heading
    starting at line ``i``, or None if the line is not a heading."""
    first = lines[i]
    if first is None or first.marker in ("glyph", "dash"):
        return None
    body = first.body(text)
    if first.marker == "number":
        return None
    if not _starts_upper(body):
        return None
    best = None
    candidate = ""
    for k in range(4):
        j = i + k
        line = lines[j] if j < len(lines) else None
        if line is None or (k and line.marker in ("glyph", "dash", "number")):
            break
        part = line.body(text) if k else body
        candidate = (candidate + " " + part).strip() if k else part
        if len(candidate) > 320:
            break
        match = match_heading(candidate)
        if match:
            best = (k + 1, match, candidate)
        if k and _SENTENCE_END.search(lines[j - 1].body(text)):
            break
        if _SENTENCE_END.search(part) and not match:
            break
    if best:
        # Mid-paragraph, only a short heading line is believed ("framework)" / "Main findings"),
        # or a judgement area given with its grade as a heading gives it: the last bullet
        # of a list above it may end without a full stop ("(outcome 3, national framework)")
        used, match, found = best
        believed = (at_boundary or not match.area and len(found) < 40
                    or match.area and _AREA_AND_GRADE.search(normalise_heading(found)))
        return (used, match) if believed else None
    # A generic heading: a short line that is not a sentence, standing alone.
    if not at_boundary or not _is_short(first, layout) or layout.line_style and len(body) > 90:
        return None
    if body.rstrip().endswith("?") and not _QUESTION_HEADING.match(body):
        return None
    if _TERMINAL.search(body) and not body.rstrip().endswith("?") or body.rstrip().endswith(","):
        return None
    if len(body.split()) > 12 or len(body) > 90 or re.search(r"[.!?]\s", body) \
            or body.rstrip().endswith(")"):
        return None
    nxt = next((l for l in lines[i + 1:i + 6] if l is not None), None)
    if nxt is not None and (not (_starts_upper(nxt.body(text)) or nxt.marker)
                            or _PARENTHETICAL.match(nxt.body(text))):
        return None
    return 1, None


def build_blocks(text: str, lines: list[Line | None], layout: Layout) -> list[Block]:
    blocks: list[Block] = []
    current: Block | None = None
    gap = True            # a blank line (or the start) precedes this line
    number_seen: int | None = None   # the last numbered paragraph
    i = 0
    while i < len(lines):
        line = lines[i]
        if line is None:
            gap = True
            i += 1
            continue
        body = line.body(text)
        prev_line = current.lines[-1] if current else None
        prev_body = prev_line.body(text) if prev_line else ""
        prev_terminal = (bool(_TERMINAL.search(prev_body)) and not ends_with_abbreviation(prev_body)
                         if prev_line else True)
        at_boundary = current is None or current.kind == "heading" or gap or prev_terminal

        # Page-break and wrap repair first: a line that starts in lower case
        # continues the unfinished paragraph or bullet above it, even after
        # blank lines or a stray "- " the PDF left at the top of a page.
        continues = current is not None and current.kind != "heading" and (
            # "(Recommendation)" or "(paragraph 12)" closing the block above
            _PARENTHETICAL.match(body)
            # sub-bullets completing their bullet: "the response to children:" / "- experiencing..."
            or (_starts_lower(body) and line.marker in ("dash", "glyph")
                and any(text[l.start:l.end].rstrip().endswith(":") for l in current.lines))
            or (_starts_lower(body) and prev_body.rstrip().endswith(":"))
            or (not prev_terminal and (
                (_starts_lower(body) and line.marker not in ("glyph", "number"))
                # "key stage" / "2. Although..." is a sentence going on, not paragraph 2
                or (line.marker == "number"
                    and (number_seen is None or int(line.number) != number_seen + 1)))))
        if continues:
            if line.marker == "number":
                line.marker, line.body_start = None, line.start + (len(text[line.start:line.end])
                                                                   - len(text[line.start:line.end].lstrip()))
            current.lines.append(line)
            gap = False
            i += 1
            continue
        if line.marker == "number":
            number_seen = int(line.number)

        heading = _heading_at(text, lines, i, layout, at_boundary)
        if heading is not None and not (heading[1] is None and current is not None
                                        and current.kind != "heading" and not at_boundary):
            used, match = heading
            block = Block("heading", [l for l in lines[i:i + used] if l is not None], None, match)
            i += used
            # A grade on the line after a judgement-area heading.
            if match is not None and match.area and not match.grade:
                # or after a blank line: a grade in a paragraph of its own (DOCX, HTML copies)
                k = i + 1 if i < len(lines) and lines[i] is None else i
                nxt = lines[k] if k < len(lines) else None
                if nxt is not None and GRADE_LINE.fullmatch(nxt.body(text)):
                    block.grade_text = nxt.body(text)
                    block.lines.append(nxt)
                    i = k + 1
            elif match is not None and match.area:
                block.grade_text = match.grade
            blocks.append(block)
            current = block
            gap = False
            continue

        new_block = False
        kind = "para"
        if current is None or current.kind == "heading":
            new_block = True
        elif line.marker in ("glyph", "dash", "number"):
            new_block = True
        elif line.marker == "space":
            # A line that starts with a space is a wrapped line of the bullet
            # above when the list uses explicit markers; where the glyph itself
            # was lost (the seeds' first bullets), it starts a new bullet.
            if not prev_terminal:
                new_block = False
            elif current.marker in ("dash", "glyph", "number"):
                new_block = gap
            else:
                new_block = True
        elif gap:
            new_block = prev_terminal or not current.lines
        else:
            # No blank line: a new paragraph only after a sentence end on a
            # short line (the last line of a paragraph is rarely full width).
            new_block = (prev_terminal and _starts_upper(body)
                         and (layout.line_style or _is_short(prev_line, layout)))
        if new_block:
            if line.marker in ("glyph", "dash", "number", "space"):
                kind = "item"
            elif current is not None and current.kind == "item" and line.marker is None and not gap \
                    and layout.line_style:
                kind = "para"
            current = Block(kind, [line], line.marker)
            blocks.append(current)
        else:
            current.lines.append(line)
        gap = False
        i += 1
    return blocks


# ---------------------------------------------------------------- joined text

def join_block(text: str, lines: list[Line]) -> tuple[str, list[int]]:
    """The block's text on one line, and for each character its offset in ``text``.

    Lines are joined with a space; a word hyphenated at a line end is joined
    without one (and keeps its hyphen: Ofsted breaks lines at real hyphens).
    """
    out: list[str] = []
    offsets: list[int] = []
    for n, line in enumerate(lines):
        body = line.body(text)
        if n:
            if out and out[-1] == "-" and len(out) > 1 and out[-2].isalpha() and _starts_lower(body):
                pass  # "decision-\nmaking" -> "decision-making"
            elif out and out[-1] in "-–" and len(out) > 1 and out[-2].isdigit() and body[:1].isdigit():
                pass  # a range broken at its dash: "2013–\n14" -> "2013–14"
            else:
                out.append(" ")
                offsets.append(line.body_start - 1)
        out.extend(body)
        offsets.extend(range(line.body_start, line.end))
    return "".join(out), offsets


# ---------------------------------------------------------------- sections and findings

@dataclass
class Section:
    heading: str | None
    mode: str                    # fixed | narrative | context | preamble | end
    judgement: str | None = None
    grade: str | None = None
    area: bool = False

    def titled(self, start: str) -> bool:
        """Whether the heading, normalised, begins with ``start``."""
        return normalise_heading(self.heading or "").startswith(start)


@dataclass
class Finding:
    index: int
    section: str | None
    subsection: str | None
    judgement: str | None   # None: left to the caller to read from the wording
    grade: str | None
    text: str
    start: int
    end: int
    paragraph: int
    unit: str                    # bullet | paragraph | sentence
    judged_by: str = "wording"   # heading (the section gives it) | wording


_BECAUSE = re.compile(r"\bbecause\s*[.:]?\s*$", re.I)
_LEAD_IN = re.compile(
    r"(?::\s*$|^.{0,200}\b(?:highlighted|highlights|outlined|outlines|noted|notes|said|found|"
    r"concluded|reported|identified|include[ds]?|because)\s*[.:]?\s*$)", re.I | re.S)


def _heading_text(text: str, block: Block) -> str:
    return " ".join(text[l.body_start:l.end].strip() for l in block.lines)


def find_findings(text: str, blocks: list[Block], info: LetterInfo, start_mode: str,
                  judge: Callable[[str], str] | None = judge_wording
                  ) -> tuple[list[Finding], list[str]]:
    """Findings of the finding-bearing sections, in document order."""
    findings: list[Finding] = []
    warnings: list[str] = []
    top = Section(None, start_mode)
    sub: Section | None = None
    paragraph = 0

    def add(section_: Section, judgement: str, body: str, start: int, end: int, unit: str):
        findings.append(Finding(
            index=len(findings), section=top.heading, subsection=sub.heading if sub else None,
            judgement=judgement, grade=section_.grade, text=body, start=start, end=end,
            paragraph=paragraph, unit=unit,
            judged_by="heading" if section_.judgement else "wording"))

    table_rows = 0   # judgement areas in a row with nothing between them: a table of grades
    for n, block in enumerate(blocks):
        if not (block.kind == "heading" and block.heading is not None and block.heading.area):
            if table_rows >= 3 and not top.titled("overall effectiveness"):
                # A table of grades without an overall effectiveness row (reports since
                # late 2025): the summary after it, or a heading such as "Executive
                # summary" that would nest there, is not the last row's area.
                top, sub = Section(None, "narrative"), None
            table_rows = 0
        section = sub or top
        if block.kind == "heading":
            heading = _heading_text(text, block)
            match = block.heading
            if match is not None and match.area:
                table_rows += 1
            if match is None:
                # A heading the catalogue does not know: a subsection of a
                # finding-bearing section, otherwise part of what surrounds it.
                if section.mode in ("fixed", "narrative"):
                    sub = _lead_in(heading, section, top)
                continue
            if match.area and block.grade_text is None and top.mode == "fixed" \
                    and not top.titled("what needs to improve") \
                    and n + 1 < len(blocks) and blocks[n + 1].kind == "item":
                # an area named without a grade inside a list ("Priority and immediate
                # action" / "Leadership, management and governance" / "1. Ensure ..."):
                # a label of the list's items, which keep the list's judgement. Not after
                # "What needs to improve?": there the areas of a report follow, and one
                # whose grade was lost must not turn the report into improvements
                sub = Section(heading, top.mode, top.judgement, top.grade)
            elif match.area:
                top = Section(heading, "narrative", None, grade_name(block.grade_text), area=True)
                sub = None
            elif match.rule.level == 2 and top.area and top.mode == "narrative":
                sub = Section(heading, match.rule.mode, match.rule.judgement, top.grade)
            else:
                top = Section(heading, match.rule.mode, match.rule.judgement)
                sub = None
            continue

        joined, offsets = join_block(text, block.lines)
        if ends_findings(joined):
            top, sub = Section(None, "end"), None
            continue
        if section.mode not in ("fixed", "narrative") or BOILERPLATE.search(joined):
            continue
        following = blocks[n + 1] if n + 1 < len(blocks) else None
        introduces_list = (following is not None and following.kind == "item"
                           and block.kind == "para")
        paragraph += 1
        if block.kind == "item" and block.marker != "number" or section.mode == "fixed":
            if introduces_list and _LEAD_IN.search(joined) and len(joined) < 300 \
                    and joined.rstrip().endswith(":"):
                sub = _lead_in(joined.strip(), section, top)
                continue
            ending = next((s for s, e in sentence_spans(joined) if ends_findings(joined[s:e])), None)
            if ending is not None:
                # The closing template line ran on from the last bullet.
                joined = joined[:ending].rstrip()
                offsets = offsets[:len(joined)]
            if joined:
                judgement = section.judgement or (judge(joined) if judge else None)
                add(section, judgement, joined.strip(), offsets[0], offsets[-1] + 1,
                    "bullet" if block.kind == "item" else "paragraph")
            if ending is not None:
                top, sub = Section(None, "end"), None
            continue
        spans = sentence_spans(joined)
        if introduces_list and spans:
            s, e = spans[-1]
            last = joined[s:e]
            if _LEAD_IN.search(last) and len(last.split()) <= 40:
                # The paragraph's other sentences belong with the list it introduces.
                # Its grade is the paragraph's ("... requires improvement. The report
                # outlined:"), but a lead-in that gives reasons states its own ("... is
                # not yet good because"): the paragraph may recall an earlier grade.
                grade = grade_name(_reason_grade(last) if _BECAUSE.search(last) else _grade_in(joined)) or top.grade
                sub = Section(last.strip(), "narrative", None, grade)
                section = sub
                spans = spans[:-1]
        for s, e in spans:
            sentence = joined[s:e]
            if ends_findings(sentence):
                # The closing template line ran on from the last paragraph.
                top, sub = Section(None, "end"), None
                break
            if BOILERPLATE.search(sentence):
                continue
            add(section, judge(sentence) if judge else None, sentence, offsets[s], offsets[e - 1] + 1,
                "sentence")
    return findings, warnings


def _lead_in(text: str, section: Section, top: Section) -> Section:
    """The subsection a lead-in or an unknown heading opens in ``section``. One that gives
    reasons states its own grade ("Children's services in X require improvement
    because:"); any other takes the area's, not that of a lead-in before it: after a
    lead-in's list, the next is the lead-in's sibling, not its child."""
    grade = grade_name(_reason_grade(text)) if _BECAUSE.search(text) else None
    return Section(text, section.mode, section.judgement, grade or top.grade)


_GRADE_IN = re.compile(r"\b(?:rated as|judged(?: to be)?|is|was|are|were|remains?|continues? to be|requires|as)\s+"
                       r"(?:(?:now|still|currently)\s+)?"
                       r"(outstanding|good|inadequate|requires? improvement to be good)\b", re.I)


def _grade_in(text: str) -> str | None:
    """The grade a paragraph states: the first it says holds now ("... were judged
    inadequate in 2019 and are now good"; "Services are good. In 2019 the authority was
    still inadequate."), else the first it names; a denied one ("no longer judged
    inadequate", "no longer require improvement to be good") is none."""
    found = [(m.start(), m.start(1), m.group(1)) for m in _GRADE_IN.finditer(text)]
    # "now require improvement to be good": a verb _GRADE_IN does not take
    named = {at for _, at, _ in found}
    found += [(m.start(), m.start(), "requires improvement to be good")
              for m in _REQUIRES_IMPROVEMENT_TO_BE_GOOD.finditer(text) if m.start() not in named]
    found = sorted((start, grade) for start, _, grade in found if not _DENIED.search(text[:start]))
    current = [grade for start, grade in found if _holds_now(text, start)]
    return (current or [grade for _, grade in found] or [None])[0]


_REQUIRES_IMPROVEMENT_TO_BE_GOOD = re.compile(r"\brequires? improvement to be good\b", re.I)
_PRESENT = {"is", "are", "now", "remain", "remains", "continue", "continues", "require", "requires",
            "currently"}
_PAST = {"was", "were", "had", "been", "previously"}


def _holds_now(text: str, start: int) -> bool:
    """Whether the grade whose words start at ``start`` is stated in the present, by the
    last words of its clause before it and its own first word ("are now judged to be
    good", "is still inadequate"), not the past ("were judged", "was still")."""
    words = set(re.split(r"[.;:,]", text[:start])[-1].lower().split()[-3:])
    words.update(text[start:start + 12].lower().split()[:1])
    past = words & _PAST
    if words & {"have", "has"}:   # "have now been judged to be good"
        past -= {"been"}
    return bool(words & _PRESENT) and not past


# "require(s) improvement" as a lead-in's verb, without "to be good" (2014-15 reports).
# A recalled grade ("services judged to require improvement are now good") loses to the
# later one; "judged to require improvement because" is the lead-in's own.
_BARE_REQUIRES_IMPROVEMENT = re.compile(r"\brequires? improvement\b", re.I)
# a grade denied: "no longer require improvement", "are not judged inadequate"
_DENIED = re.compile(r"(?:\bnot|\bnever|\bno longer|n[’']t)\s+"
                     r"(?:(?:been\s+|be\s+)?(?:judged|found|rated)\s+(?:to\s+)?)?$", re.I)


def _reason_grade(lead_in: str) -> str | None:
    """The grade a lead-in that gives reasons states: "... require improvement because:"
    says it without "to be good" (2014-15 reports). Of two grades, the one nearer
    "because" is the lead-in's ("... were inadequate and now require improvement
    because:"); the other is recalled."""
    found = [(m.start(), m.group(1)) for m in _GRADE_IN.finditer(lead_in)]
    found += [(m.start(), "requires improvement") for m in _BARE_REQUIRES_IMPROVEMENT.finditer(lead_in)]
    found = [(start, grade) for start, grade in found if not _DENIED.search(lead_in[:start])]
    return max(found)[1] if found else None


# ---------------------------------------------------------------- a document

def segment_text(text: str, judge: Callable[[str], str] | None = judge_wording
                 ) -> tuple[LetterInfo, list[Finding], list[str]]:
    """Letter metadata and findings of one document's text. ``judge`` reads a
    judgement from the wording where no heading gives one; None leaves it to the
    caller (the tagger's judgement model, which would replace it anyway)."""
    info = read_letter_info(text)
    lines = read_lines(text)
    layout = measure_layout(text, lines)
    blocks = build_blocks(text, lines, layout)
    narrative_from_start = info.kind in ("press_summary",)
    findings, warnings = find_findings(text, blocks, info,
                                       "narrative" if narrative_from_start else "preamble", judge)
    known = any(b.kind == "heading" and b.heading is not None and
                (b.heading.area or b.heading.rule.mode in ("fixed", "narrative")) for b in blocks)
    if not known and not narrative_from_start:
        # No heading we know: read the body after the salutation as narrative,
        # rather than return nothing.
        start = 0
        for n, block in enumerate(blocks):
            if re.match(r"dear\b", text[block.start:block.end], re.I):
                start = n + 1
                break
        findings, warnings = find_findings(text, blocks[start:], info, "narrative", judge)
        warnings.append("no recognised section headings: every paragraph after the salutation "
                        "was read as narrative, " + ("judged from its wording" if judge is not None
                                                    else "judged by the judgement model"))
    return info, findings, warnings + info.warnings
