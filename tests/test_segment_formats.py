"""Layouts of inspection reports that earlier rules misread, on small inline texts
written in their style: the 2025 report's list of improvements, whose last bullet
ends without a full stop, before a judgement area; the table of grades without an
overall effectiveness row; the template footnote of areas for improvement; and the
local safeguarding children board's sections of 2014-16 reports."""

from __future__ import annotations

import pytest

from pipeline.parse import segment_text
from pipeline.pdf import clean_pages

HEAD = ("Inspection of Exampleshire local authority children's services\n"
        "Inspection dates: 9 to 20 June 2025\n"
        "Lead inspector: Ann Lee, His Majesty's Inspector\n")

IMPROVE = ("What needs to improve?\n"
           "◼ The quality of plans and contingency planning for children, including timescales\n"
           "for action (outcome 3, national framework)\n"
           "◼ The consistency of decisions by the designated officer and the extent to which\n"
           "those decisions are evidenced (outcome 3, national\n"
           "framework)\n")

AREA = ("The experiences and progress of children who need help and\n"
        "protection: requires improvement to be good\n"
        "1. Children and families benefit from effective early help services. Assessments\n"
        "provide an accurate picture of families' needs and of the help they receive.\n"
        "2. Too many strategy discussions are delayed, and some children wait too long\n"
        "for their child protection enquiries to start.\n")


def findings_of(text: str):
    return segment_text(text)[1]


@pytest.mark.parametrize("separator", [":", " –", " -"])
def test_a_judgement_area_after_a_bullet_without_a_full_stop_starts_its_section(separator):
    findings = findings_of(HEAD + IMPROVE + AREA.replace("protection:", "protection" + separator))
    improve = [f for f in findings if f.section == "What needs to improve?"]
    assert len(improve) == 2 and all(f.text.endswith("(outcome 3, national framework)") for f in improve)
    assert all(f.judgement == "development" and f.judged_by == "heading" for f in improve)
    area = [f for f in findings if f not in improve]
    assert [f.text.split()[0] for f in area] == ["Children", "Assessments", "Too"]
    for f in area:
        assert f.section == ("The experiences and progress of children who need help and protection"
                             f"{separator} requires improvement to be good")
        assert (f.unit, f.judged_by, f.grade) == ("sentence", "wording", "requires_improvement")


def test_a_sentence_that_names_an_area_and_its_grade_after_a_bullet_does_not():
    """Only the heading's form, the grade after a colon or dash, is believed mid-list:
    'The experiences ... are good' wrapped under a bullet is a sentence going on."""
    text = HEAD + IMPROVE[:-len("framework)\n")] + ("framework), so that\n"
                                                    "The experiences and progress of children in care are good\n"
                                                    "for most of them.\n")
    findings = findings_of(text)
    assert all(f.section == "What needs to improve?" for f in findings)


TABLE = ("Judgement Grade\n"
         "The impact of leaders on social work\n"
         "practice with children and families\n"
         "Inadequate\n"
         "The experiences and progress of\n"
         "children who need help and protection\n"
         "Inadequate\n"
         "The experiences and progress of\n"
         "children in care\n"
         "Good\n"
         "The experiences and progress of care\n"
         "leavers\n"
         "Requires improvement to be good\n")
SUMMARY = ("Since the previous inspection, leaders have been too slow to recognise the decline in\n"
           "some services. Practice with children in care has improved.\n")


def test_the_summary_after_a_table_of_grades_without_an_overall_row_is_no_areas():
    findings = findings_of(HEAD + TABLE + SUMMARY + IMPROVE)
    summary = [f for f in findings if f.section != "What needs to improve?"]
    assert [f.text.split()[0] for f in summary] == ["Since", "Practice"]
    assert all(f.section is None and f.grade is None and f.unit == "sentence" for f in summary)


def test_the_summary_after_a_table_of_grades_with_an_overall_row_is_under_it():
    findings = findings_of(HEAD + TABLE + "Overall effectiveness Requires improvement to be good\n"
                           + SUMMARY + IMPROVE)
    summary = [f for f in findings if f.section != "What needs to improve?"]
    assert len(summary) == 2
    assert all(f.section == "Overall effectiveness Requires improvement to be good"
               and f.grade == "requires_improvement" for f in summary)


FOOTNOTE = ("The areas for improvement have been cross-referenced with the outcomes, enablers or "
            "principles in \nthe Children's Social Care: National Framework. This statutory guidance "
            "sets out the purpose, \nprinciples for practice and expected outcomes of children's social care.")


# a page's worth of lines: a footnote is looked for among the last lines of a page
BODY = ["Social workers visit children regularly and see them alone when it is right to do so."] * 8


def page(*lines: str) -> str:
    return "\r\n".join(lines)


def test_the_template_footnote_is_dropped_with_or_without_its_number():
    first = page("What needs to improve in this area of social work practice?", "1",
                 "Leaders know their services well and act on what they learn from audits. Most",
                 "children are seen promptly, and their views are recorded in their plans.",
                 "Managers review the progress of plans regularly and act when it stalls.",
                 *BODY, "A lack of managerial oversight means that some checks are not progressed swiftly.",
                 *FOOTNOTE.split("\n"))
    second = page("Children who go missing are offered return home interviews. Social workers",
                  "use what they learn to reduce the risk of exploitation.")
    text = clean_pages([first, second])
    assert "cross-referenced" not in text and "statutory guidance" not in text
    numbered = clean_pages([first.replace("The areas for", "1 The areas for"), second])
    assert numbered == text


@pytest.mark.parametrize("footnote_number", ["1 ", "1\r\n", ""])
def test_a_heading_marker_near_the_foot_of_a_page_keeps_the_list_above_its_footnote(footnote_number):
    # the heading's superscript on a line of its own, then the list, then the footnote:
    # the marker is no footnote start (its footnote is below), so the bullets stay
    first = page(*BODY, "What needs to improve in this area of social work practice?", "1",
                 "◼ The consistency and rigour of responses to children who go missing from care",
                 "(Outcome 3, national framework)",
                 footnote_number + FOOTNOTE.split("\n")[0], *FOOTNOTE.split("\n")[1:])
    second = page("◼ The quality of life-story work for children in care (Outcome 4, national framework)",
                  "Main findings", "Children who go missing are offered return home interviews.")
    text = clean_pages([first, second])
    assert "cross-referenced" not in text and "statutory guidance" not in text
    assert "responses to children who go missing from care\n(Outcome 3, national framework)" in text
    assert "\n1\n" not in text


def test_a_footnote_that_pdfium_joined_to_a_hyphenated_word_is_dropped_and_the_word_mended():
    # pdfium marks a hyphen at a line end with U+FFFE and joins the next text to it:
    # at a page's foot, that text is the footnote, and the word goes on on the next page
    first = page("What needs to improve?1",
                 "◼ Quality of contacts, timeliness and allocation response (outcome 2, national",
                 "framework)", *BODY[:2],
                 "The experiences and progress of children who need help and ",
                 "protection: inadequate",
                 "1. The quality of contacts from partner agencies is variable. When family history ",
                 "has been provided by agencies, this is not routinely considered in decision\ufffe1 "
                 + FOOTNOTE.split("\n")[0], *FOOTNOTE.split("\n")[1:])
    second = page("making about next steps. This sometimes leads to repeat referrals.",
                  "2. Children and families wait too long to receive help from the family support service.")
    text = clean_pages([first, second])
    assert "cross-referenced" not in text and "statutory guidance" not in text
    texts = [f.text for f in findings_of(HEAD + text)]
    assert "When family history has been provided by agencies, this is not routinely considered in " \
           "decision-making about next steps." in texts


def test_a_number_after_a_hyphenated_word_that_is_no_footnote_stays():
    lines = ["Leaders responded well to the challenges of the COVID\ufffe19 Pandemic recovery plan,",
             "and services for children continued throughout.", "Social workers visited children.",
             "Managers met every week.", "Plans were reviewed."]
    assert "COVID-19 Pandemic recovery plan," in clean_pages([page(*lines)])


LSCB = ("The Local Safeguarding Children Board is good\n"
        "The arrangements in place to evaluate the effectiveness of what is done by the\n"
        "authority and board partners to safeguard and promote the welfare of children are\n"
        "good.\n"
        "Priority and immediate action\n"
        "No areas were identified for immediate improvement.\n"
        "Areas for improvement\n"
        "120. Develop a narrative analysis of performance to support the multi-agency data set.\n"
        "Inspection judgement about the LSCB\n"
        "121. A broad range of partners attend board meetings. The annual report is not\n"
        "yet published, and its analysis of training is weak.\n")


def test_the_inspection_judgement_about_the_board_is_narrative_not_the_list_above_it():
    findings = findings_of(HEAD + LSCB)
    texts = {f.text: f for f in findings}
    assert "No areas were identified for immediate improvement." not in texts
    assert not any(t.startswith("The arrangements in place") for t in texts)
    assert texts["Develop a narrative analysis of performance to support the multi-agency data set."] \
        .judged_by == "heading"
    judged = [f for f in findings if f.subsection == "Inspection judgement about the LSCB"]
    assert [f.text.split()[0] for f in judged] == ["A", "The"]
    assert all(f.unit == "sentence" and f.judged_by == "wording" and f.grade == "good" for f in judged)


def test_a_line_ending_in_because_introduces_the_list_below_it():
    # too long for a heading of its own (a short line is one already)
    text = (HEAD + "Summary of key findings\n"
            "This local authority has serious weaknesses in its help for children and is not yet good because\n"
            "- Too many children experience changes of social worker, and their plans drift.\n"
            "- The quality of pathway plans for care leavers is poor.\n")
    findings = findings_of(text)
    assert [f.text.split()[0] for f in findings] == ["Too", "The"]
    assert all(f.subsection == "This local authority has serious weaknesses in its help for children and is "
               "not yet good because" for f in findings)


def test_a_page_number_is_no_footnote_marker_for_a_hyphenated_word():
    # pdfium gives the page number a line of its own at the top: page 19 here
    lines = ["19", *BODY, "Leaders responded well to the challenges of the COVID\ufffe19 Pandemic and services",
             "continued throughout."]
    assert "COVID-19 Pandemic and services" in clean_pages([page(*lines)])


def test_the_template_footnote_in_a_copy_that_is_not_a_pdf_gives_no_findings():
    text = HEAD + IMPROVE + AREA + "\n1 " + FOOTNOTE.replace(" \n", " ") + "\n"
    texts = [f.text for f in findings_of(text)]
    assert len(texts) == 5 and not any("cross-referenced" in t or "statutory guidance" in t for t in texts)


def test_a_paragraph_going_on_after_a_template_sentence_keeps_its_findings():
    text = HEAD + ("The Local Safeguarding Children Board is inadequate\n"
                   "The arrangements in place to evaluate the effectiveness of what is done by the authority "
                   "and board partners are inadequate. The board has not assured itself of the quality of "
                   "training. Its annual report is late.\n")
    assert [f.text.split()[0] for f in findings_of(text)] == ["The", "Its"]


def test_a_lead_in_giving_reasons_is_graded_by_itself_not_by_a_grade_the_paragraph_recalls():
    text = (HEAD + "Overall effectiveness: good\n"
            "When Ofsted last inspected services in 2018, they were judged inadequate. Services for children "
            "are now much improved because\n"
            "- Leaders have strengthened the front door.\n"
            "- Social workers have manageable caseloads.\n")
    findings = findings_of(text)
    assert len(findings) == 3 and all(f.grade == "good" for f in findings)


@pytest.mark.parametrize("body, expected", [
    # "terms and conditions" and "privacy notice" in a sentence had ended a report's
    # findings 30 sentences early: they end a saved page's text only as a footer line
    ("Main findings\nLeaders limit the number of agency staff by managing pay rates, and terms and "
     "conditions. Care leavers are given a clear privacy notice about their records.\n\n"
     "Caseloads are too high in the assessment teams.\n",
     ["Leaders limit the number of agency staff by managing pay rates, and terms and conditions.",
      "Care leavers are given a clear privacy notice about their records.",
      "Caseloads are too high in the assessment teams."]),
    # only the template's sentence that "will contribute to the annual review" is dropped
    ("Main findings\nChildren are seen promptly. It will contribute to the annual review of the performance "
     "of the authority's children's services. It will contribute to Ofsted's annual review. "
     "It will contribute to the stability of placements that carers are trained.\n",
     ["Children are seen promptly.", "It will contribute to the stability of placements that carers are trained."]),
    # a summary of findings after a context heading (2014-15) is no context
    ("The local authority\nSummary of findings\n"
     "Children's services in Exampleshire require improvement because:\n"
     "1. Thresholds between early help and social work services are not sufficiently understood.\n"
     "2. Work with care leavers is too variable.\n",
     ["Thresholds between early help and social work services are not sufficiently understood.",
      "Work with care leavers is too variable."]),
    # what a grade means, as the 2015 template words it, judges nothing
    ("The Local Safeguarding Children Board is good\n"
     "An LSCB that is good coordinates the activity of statutory partners and monitors the "
     "effectiveness of local arrangements. Multi-agency training is effective.\n\n"
     "The board's annual report is thorough and its challenge to partners is strong.\n",
     ["The board's annual report is thorough and its challenge to partners is strong."]),
], ids=["footer-words-in-sentences", "contribute-to-the-annual-review", "summary-of-findings-after-context",
        "what-a-grade-means"])
def test_these_sections_give_exactly_these_findings(body, expected):
    assert [f.text for f in findings_of(HEAD + body)] == expected


@pytest.mark.parametrize("text, ends", [
    ("Privacy notice | Cookies | Terms and conditions", True),
    ("Copyright Exampleshire Council 2024. All rights reserved. Privacy notice", True),
    ("Website designed by Example Ltd.", True),
    ("Yours sincerely", True),
    ("The council reviewed the terms and conditions of agency staff.", False),
    ("Terms and conditions of agency social workers (outcome 5, national framework)", False),
    ("Care leavers receive a privacy notice that explains who sees their records.", False),
    ('One care leaver said, "I never saw a privacy notice."', False),
    ("Carers are told their terms and conditions, including:", False),
    ("Improve the terms and conditions offered to foster carers", False),
    ("Terms and conditions", True),
    (" ".join(["Privacy notice"] + ["word"] * 30), False),
])
def test_a_footer_phrase_ends_the_findings_only_where_it_is_no_sentence(text, ends):
    from pipeline.sections import ends_findings

    assert ends_findings(text) is ends


def test_a_year_range_broken_at_its_dash_is_joined_and_a_spaced_dash_is_not():
    text = HEAD + ("Main findings\n"
                   "Children are seen promptly and their plans are reviewed. Re-referral rates fell from 37% in 2013–\n"
                   "14 to 22% currently, and the rate of repeat plans from 30% in 2012-\n"
                   "13. The number of children seen rose to 45 –\n"
                   "20 more than the year before.\n")
    assert [f.text for f in findings_of(text)][1:] == [
        "Re-referral rates fell from 37% in 2013–14 to 22% currently, and the rate of repeat plans from 30% "
        "in 2012-13.", "The number of children seen rose to 45 – 20 more than the year before."]


def test_spaces_and_hyphens_that_are_not_the_plain_ones_are_made_plain():
    from pipeline.ingest import normalise_text

    assert normalise_text("seen alone\u202fby social workers; long\u2011term\u00a0plans; re\u2010referral"
                          "\u2007rates; safe\u00adguarded\u2009and\u200b helped") == (
        "seen alone by social workers; long-term plans; re-referral rates; safeguarded and helped")


def test_progress_since_the_last_inspection_is_judged_by_its_wording_not_the_strengths_above():
    text = HEAD + ("The local authority's strengths\n"
                   "1. Children are seen promptly and their views shape their plans.\n"
                   "Progress since the last inspection\n"
                   "2. Thresholds for social work assessment and intervention are too high.\n")
    findings = findings_of(text)
    assert [(f.judgement, f.judged_by) for f in findings] == [("strength", "heading"),
                                                               ("development", "wording")]
    assert findings[1].section == "Progress since the last inspection"


@pytest.mark.parametrize("heading", ["The Local Authority has the following strengths",
                                     "The local authority has the following key strengths:",
                                     "Areas of strength"])
def test_the_local_authority_has_the_following_strengths_is_a_list_of_strengths(heading):
    text = HEAD + ("Summary of key findings\n" + heading + "\n"
                   "- Nearly all looked after children are placed in provision rated good or better.\n")
    [finding] = findings_of(text)
    assert (finding.judgement, finding.judged_by) == ("strength", "heading")


def test_the_boards_executive_summary_and_recommendations_stay_under_the_board_and_its_grade():
    text = HEAD + ("The Local Safeguarding Children Board requires improvement\n"
                   "Executive summary\n"
                   "The board has a clear understanding of its priorities. Its challenge to partners is weak.\n"
                   "Recommendations\n"
                   "1. Ensure that the board evaluates the impact of its training.\n")
    findings = findings_of(text)
    assert len(findings) == 3
    assert {(f.section, f.grade) for f in findings} == {
        ("The Local Safeguarding Children Board requires improvement", "requires_improvement")}
    assert [f.subsection for f in findings] == ["Executive summary", "Executive summary", "Recommendations"]
    assert findings[2].judgement == "development"


def test_an_executive_summary_after_a_table_of_grades_without_an_overall_row_is_under_no_area():
    text = HEAD + ("The experiences and progress of children who need help and protection Good\n"
                   "The experiences and progress of children in care Inadequate\n"
                   "The experiences and progress of care leavers Good\n"
                   "Executive summary\n"
                   "Leaders have improved the front door. Children in care wait too long for plans.\n")
    findings = findings_of(text)
    assert len(findings) == 2 and {(f.section, f.grade) for f in findings} == {("Executive summary", None)}


@pytest.mark.parametrize("below, kept", [
    # the template footnote numbered 2 is not the footnote of the bare marker 1
    (["1", "Joint targeted area inspection, published in March 2024.",
      "2 " + FOOTNOTE.split("\n")[0]], False),
    # a date opening a wrapped line of the footnote is no footnote start
    (["1", "The local authority's own figures for the year to", "1 April 2018 show a rise."], False),
])
def test_a_footnote_on_a_line_of_its_own_is_dropped_not_taken_for_its_marker(below, kept):
    lines = [*BODY, "Leaders told inspectors about the inspection of the partnership.", "1",
             "◼ The quality of plans for children in need (outcome 3, national framework)", *below]
    text = clean_pages([page(*lines)])
    assert "◼ The quality of plans for children in need" in text
    assert ("Joint targeted area inspection" in text or "show a rise" in text) is kept


@pytest.mark.parametrize("line, kept", [
    # the marker of the footnote below, glued to the sentence's quote and stop
    ("Plans do not take account of ‘Working together to safeguard children’.3",
     "Plans do not take account of ‘Working together to safeguard children’.\n"),
    ("Core groups do not meet often enough to review plans.3", "to review plans.\n"),
    # a decimal point, not a marker
    ("Placement moves over a year fell from 13% to 10.3", "from 13% to 10.3\n"),
    # Newham 2026: the marker of the heading's footnote
    ("What needs to improve?3", "What needs to improve?\n"),
    ("Plans follow Working Together (2018)3", "Working Together (2018)\n"),
    # a stop after a letter or an abbreviation numbers something
    ("Strategy discussions are held under s.3", "under s.3\n"),
    ("Its terms are set out in Appendix A.3", "Appendix A.3\n"),
    ("Its terms are set out at para.3", "para.3\n"),
])
def test_a_footnote_marker_glued_to_a_sentence_end_goes_with_its_footnote(line, kept):
    lines = [*BODY, line, "Managers review the progress of plans regularly.",
             "3 Working together to safeguard children, Department for Education, March 2013."]
    text = clean_pages([page(*lines)])
    assert kept in text and "Department for Education" not in text


@pytest.mark.parametrize("footnote", [[], ["4 Working together to safeguard children, Department for Education."]])
def test_a_glued_number_without_its_footnote_on_the_page_stays(footnote):
    lines = [*BODY, "Core groups do not meet often enough to review plans.3", "Managers act.", *footnote]
    assert "to review plans.3\n" in clean_pages([page(*lines)])


def test_a_date_in_a_dropped_footnote_is_no_footnote_number():
    # footnote 3's second line starts with a date: "1" is no footnote dropped from the page
    lines = [*BODY, "Visits rose in the year to 31 March.1", "Managers review plans.",
             "3 Working together to safeguard children, Department for Education, published on",
             "1 April 2018 and revised since."]
    text = clean_pages([page(*lines)])
    assert "to 31 March.1\n" in text and "Department for Education" not in text


def test_an_area_named_without_a_grade_inside_a_list_labels_its_items():
    # Sandwell 2015: the priority actions had become sentences judged by wording, 4 of 5
    # of them strengths, under a narrative section named after the area
    text = HEAD + ("Priority and immediate action\n"
                   "Leadership, management and governance\n"
                   "1. Undertake an immediate review of all child sexual exploitation cases.\n"
                   "2. Ensure that case file auditing processes are robust.\n")
    findings = findings_of(text)
    assert [(f.section, f.subsection, f.judgement, f.judged_by) for f in findings] == [
        ("Priority and immediate action", "Leadership, management and governance", "priority_action", "heading")] * 2


@pytest.mark.parametrize("grade", ["", "\n\nGood"])
def test_a_report_area_after_what_needs_to_improve_is_no_label_of_the_list(grade):
    # an ILACS area whose grade is lost, or stands in a paragraph of its own (DOCX, HTML)
    text = HEAD + ("What needs to improve?\n"
                   "◼ The quality of plans for children in need\n\n"
                   "The experiences and progress of children who need help and protection" + grade + "\n\n"
                   "1. Children are seen promptly. Their plans are reviewed well.\n")
    findings = findings_of(text)
    assert [(f.judgement, f.unit) for f in findings][1:] == [("strength", "sentence"), ("strength", "sentence")]
    assert findings[1].grade == ("good" if grade else None)


@pytest.mark.parametrize("lead_in, grade", [
    ("Children's services in Exampleshire require improvement because:", "requires_improvement"),
    ("Children's services in Exampleshire are inadequate because:", "inadequate"),
])
def test_a_lead_in_that_gives_reasons_gives_its_findings_its_grade(lead_in, grade):
    text = HEAD + ("The local authority\nSummary of findings\n" + lead_in + "\n"
                   "1. Thresholds between early help and social work services are not understood.\n"
                   "2. Work with care leavers is too variable.\n")
    assert {(f.subsection, f.grade) for f in findings_of(text)} == {(lead_in, grade)}


@pytest.mark.parametrize("lead_in, grade", [
    # a heading of its own: no colon, blank lines round it
    ("Children's services are inadequate because", "inadequate"),
    ("Children's services require improvement because", "requires_improvement"),
    # a grade denied or recalled is none the lead-in states
    ("Children's services in Exampleshire no longer require improvement because:", None),
    ("Children's services in Exampleshire do not require improvement because:", None),
    # of two grades, the one the lead-in gives reasons for
    ("Services judged to require improvement are now good because:", "good"),
    ("Services were judged inadequate and now require improvement because:", "requires_improvement"),
    ("Services were judged to be good but are now inadequate because:", "inadequate"),
    # 'to require improvement' is the lead-in's own grade unless a later one recalls it
    ("Children's services are judged to require improvement because:", "requires_improvement"),
    ("Services were judged to be inadequate and are now judged to require improvement because:",
     "requires_improvement"),
    ("Children's services don't require improvement because:", None),
    ("Children's services are no longer judged inadequate because:", None),
    ("Children's services are not judged to require improvement because:", None),
])
def test_a_reason_lead_in_as_a_heading_and_its_denied_grades(lead_in, grade):
    text = HEAD + ("The local authority\nSummary of findings\n\n" + lead_in + "\n\n"
                   "1. Thresholds between early help and social work services are not understood.\n"
                   "2. Work with care leavers is too variable.\n\nMissing children\n\n"
                   "Return home interviews are completed promptly and are of good quality.\n")
    findings = findings_of(text)
    assert [(f.subsection, f.grade) for f in findings] == [(lead_in, grade)] * 2 + [("Missing children", None)]


@pytest.mark.parametrize("section", ["What needs to improve?", "Summary of findings"])
def test_a_lead_in_after_a_reason_lead_in_s_list_is_its_sibling(section):
    # in a fixed section as in a narrative one, the second lead-in does not take the
    # first one's grade; a paragraph's lead-in that gives reasons states its own
    text = HEAD + ("The local authority\n" + section + "\n\nChildren's services are inadequate because\n\n"
                   "1. Thresholds between early help and social work services are not understood.\n\n"
                   "The local authority should also:\n"
                   "1. Ensure that plans are reviewed.\n\n"
                   "Children's services require improvement because:\n"
                   "1. Work with care leavers is too variable.\n")
    assert [(f.subsection, f.grade) for f in findings_of(text)] == [
        ("Children's services are inadequate because", "inadequate"),
        ("The local authority should also:", None),
        ("Children's services require improvement because:", "requires_improvement")]


@pytest.mark.parametrize("paragraph, grade", [
    ("Services were judged inadequate in 2019. Inspectors found that:", "inadequate"),
    # a grade the paragraph says holds now beats one it recalls, before or after it
    ("Services were judged inadequate in 2019 and are now good. Inspectors found that:", "good"),
    ("Services were judged good in 2019 and are now inadequate. Inspectors found that:", "inadequate"),
    ("Services were judged inadequate in 2019 and are now judged to be good. Inspectors found that:", "good"),
    ("Services were judged inadequate in 2019 and are now rated as good. Inspectors found that:", "good"),
    ("Services were judged inadequate in 2019 and now require improvement to be good. Inspectors found that:",
     "requires_improvement"),
    ("Services were inadequate in 2018 and still require improvement to be good. Inspectors found that:",
     "requires_improvement"),
    ("Children's services are good. At the monitoring visit in 2019, the local authority was still "
     "inadequate. Inspectors found that:", "good"),
    ("Services are now good, having been judged inadequate in 2019. Inspectors found that:", "good"),
    ("Services were judged inadequate in 2019 and have now been judged to be good. Inspectors found that:",
     "good"),
    ("Services were judged good in 2018 but have deteriorated and remain inadequate. Inspectors found that:",
     "inadequate"),
    ("Services were judged good in 2018 and are currently inadequate. Inspectors found that:", "inadequate"),
    # verbs of a grade held now, and of one that was
    ("Overall effectiveness remains good. Inspectors found that:", "good"),
    ("Services continue to be inadequate. Inspectors found that:", "inadequate"),
    ("Services were inadequate in 2019. Inspectors found that:", "inadequate"),
    # of two grades held now, the first (the paragraph's own; the other is a part's)
    ("Services overall are inadequate, although early help is now good. Inspectors found that:", "inadequate"),
    # a denied grade is none the paragraph states
    ("Services are no longer judged inadequate. Inspectors found that:", None),
    ("Services no longer require improvement to be good. Inspectors found that:", None),
    ("Services are no longer judged inadequate and are now good. Inspectors found that:", "good"),
])
def test_a_paragraph_lead_in_takes_the_grade_its_paragraph_says_holds(paragraph, grade):
    text = HEAD + ("The local authority\nSummary of findings\n\n" + paragraph + "\n"
                   "1. Thresholds between early help and social work services are not understood.\n"
                   "2. Work with care leavers is too variable.\n")
    assert {(f.subsection, f.grade) for f in findings_of(text)} == {("Inspectors found that:", grade)}
