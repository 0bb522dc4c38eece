"""Property: over generated letters, the parser never crashes and every sentence
of a finding-bearing section lands in exactly one finding (and nothing from
other sections becomes one)."""

from __future__ import annotations

import textwrap

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.parse import segment_text

SUBJECTS = ["Children", "Managers", "Social workers", "Plans", "Assessments", "Leaders",
            "Partners", "Records", "Young people", "Care leavers", "Foster carers", "Audits"]
WORDS = ("are seen regularly by their social worker and the council has improved the quality "
         "of direct work with families while some reviews lack rigour because caseloads remain "
         "high in two teams so that risk is understood and help is offered quickly to "
         "families who need it including 16 and 17 year olds e.g. those at risk").split()
FIXED = {
    "Strengths": "strength",
    "Areas for development": "development",
    "What needs to improve in this area of social work practice?": "development",
    "Area(s) for priority action": "priority_action",
    "The service meets the requirements of statutory guidance in the following areas":
        "meets_requirements",
}
NARRATIVE = ["Headline findings", "Main findings", "Overview"]
CONTEXT = ["Information about this inspection", "The inspection team"]


@st.composite
def sentences(draw):
    subject = draw(st.sampled_from(SUBJECTS))
    words = draw(st.lists(st.sampled_from(WORDS), min_size=3, max_size=18))
    comma = draw(st.integers(0, len(words)))
    if 0 < comma < len(words) - 1:
        words[comma] += ","
    end = draw(st.sampled_from([".", ".", ".", "?"]))
    # no word of the sentence ends an abbreviation-like token at its very end
    return subject + " " + " ".join(words).rstrip(",") + end


@st.composite
def sections(draw):
    kind = draw(st.sampled_from(["fixed", "narrative", "context"]))
    if kind == "fixed":
        heading = draw(st.sampled_from(sorted(FIXED)))
        items = draw(st.lists(st.lists(sentences(), min_size=1, max_size=3), min_size=1, max_size=5))
        return heading, kind, items
    if kind == "narrative":
        heading = draw(st.sampled_from(NARRATIVE))
        paras = draw(st.lists(st.lists(sentences(), min_size=1, max_size=4), min_size=1, max_size=4))
        return heading, kind, paras
    heading = draw(st.sampled_from(CONTEXT))
    paras = draw(st.lists(st.lists(sentences(), min_size=1, max_size=2), min_size=1, max_size=2))
    return heading, kind, paras


def unique_sentences(secs):
    """Number every sentence ("... in area 7.") so that each can be found exactly."""
    counter = iter(range(1, 10_000))
    return [(heading, kind, [[s[:-1] + f" in area {next(counter)}" + s[-1] for s in block]
                             for block in blocks])
            for heading, kind, blocks in secs]


PREAMBLE = ["12 March 2024", "Jane Smith", "Exampleshire County Council", "Dear Ms Smith",
            "Focused visit to Exampleshire children's services",
            "This letter summarises the findings of the focused visit to Exampleshire children's "
            "services on 6 and 7 February 2024."]
CLOSING = ["Yours sincerely", "Ann Lee", "His Majesty's Inspector"]


def render(secs, style, breaks):
    """The letter as text: 'text' style (blank lines, '- ' bullets, some bullets
    broken by a page break) or 'pdf' style (wrapped lines, glyph bullets)."""
    out = list(PREAMBLE)
    for n, (heading, kind, blocks) in enumerate(secs):
        out.append(heading)
        for m, block in enumerate(blocks):
            body = " ".join(block)
            bullet = kind == "fixed"
            if style == "pdf":
                lines = textwrap.wrap(body, 80)
                if bullet:
                    lines[0] = "◼ " + lines[0]
                out.extend(lines)
            else:
                if bullet and breaks and (n + m) % 2 == 0 and " and " in body:
                    # a page break inside the bullet, continuation in lower case
                    head, tail = body.split(" and ", 1)
                    out.append("- " + head + "\n\n\n\n" + breaks + "and " + tail)
                else:
                    out.append(("- " if bullet else "") + body)
                out.append("")
    out.extend(CLOSING)
    return "\n".join(out) + "\n"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(secs=st.lists(sections(), min_size=1, max_size=5),
       style=st.sampled_from(["text", "pdf"]),
       breaks=st.sampled_from(["", "- ", " "]))
def test_every_sentence_lands_in_exactly_one_finding(secs, style, breaks):
    secs = unique_sentences(secs)
    text = render(secs, style, breaks)
    info, findings, warnings = segment_text(text)
    texts = [" ".join(f.text.split()) for f in findings]
    for heading, kind, blocks in secs:
        for block in blocks:
            for sentence in block:
                hits = [t for t in texts if sentence in t]
                if kind == "context":
                    assert not hits, (sentence, text)
                    continue
                assert len(hits) == 1, (sentence, hits, text)
        if kind == "fixed":
            for block in blocks:
                first = block[0]
                owner = [f for f in findings if first in " ".join(f.text.split())]
                assert all(f.judgement == FIXED[heading] for f in owner), (heading, owner)
    # nothing else becomes a finding (preamble, closing, headings)
    for t in texts:
        assert not t.startswith(("Dear", "Yours", "This letter summarises", "12 March"))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_parser_never_crashes_on_any_text(text):
    info, findings, warnings = segment_text(text)
    for f in findings:
        assert 0 <= f.start <= f.end <= len(text)
