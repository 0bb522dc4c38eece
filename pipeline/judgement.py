"""Judgement of a finding from its wording, where no heading gives it.

The spec: positive is ``strength``, negative is ``development``, both
("improved, but not yet consistent") is ``development``, and a sentence that
judges nothing (context, history, what inspectors looked at, a plan not yet in
place) is ``neutral``. This is the wording heuristic; a trained judgement model
replaces it where it measures better.
"""

from __future__ import annotations

import re

JUDGEMENTS = ("strength", "meets_requirements", "development", "priority_action", "neutral")


def judgement_id(value: str) -> str:
    """A judgement as written ("Priority action", "meets-requirements") as its id."""
    return re.sub(r"[\s-]+", "_", value.strip().lower())

_NEGATIVE = re.compile(
    r"\b(?:not (?:always|yet|consistently|sufficiently|routinely|all|enough|been|being|fully|"
    r"clear|effective|good|timely|robust|well|evident|in place|in line|able|given|seen|"
    r"completed|updated|reviewed|considered|recorded|met|undertaken|informed|available|"
    r"identified|used|understood|focused|included|taken|provided|supported|offered|made|received|"
    r"known|followed|visited|allocated|appropriate|strong|sufficient|secure|accurate|"
    r"tracked|monitored|embedded|prompt|established|shared|agreed|achieved)|"
    r"no evidence|little evidence|lack(?:s|ing|ed)?|insufficient(?:ly)?|inadequate(?:ly)?|poor(?:ly)?|"
    r"weak(?:er|ness|nesses|ly)?|delay(?:s|ed)?|drift|inconsisten(?:t|tly|cy|cies)|variab(?:le|ility)|"
    r"too (?:long|many|much|slow|few|high|late|often|early|narrow|adult)|limited|"
    r"requires? improvement|need(?:s|ed)? (?:to|further|more)|should|must|ineffective(?:ly)?|"
    r"gaps?|fail(?:s|ed|ing|ure|ures)?|absen(?:t|ce)|concern(?:s|ing)?|shortfalls?|"
    r"less (?:effective|well|robust|consistent|clear|timely)|unclear|unable|unsafe|"
    r"deteriorat(?:ed|ing|ion)|declin(?:ed|ing)|backlogs?|overdue|out of date|"
    r"(?:high|unmanageable|excessive) caseloads|cumbersome|vulnerable to|left (?:at risk|in)|"
    r"deficit(?:s)?|shortage(?:s)?|challeng(?:e|es|ing)|remain(?:s)? (?:at|an) (?:early|area)|"
    r"yet to|only (?:just|recently)|recommend(?:s|ed|ation)?|priority action|"
    r"difficult|hamper(?:ed|s)?|undermine(?:s|d)?|mixed|patchy|superficial|"
    r"not (?:always )?(?:receiv|understand|know)|do(?:es)? not|did not|have not|has not|"
    r"had not|are not|is not|was not|were not|cannot|none of|nor)\b",
    re.I,
)

_POSITIVE = re.compile(
    r"\b(?:good|well|effective(?:ly)?|strong(?:ly)?|strength(?:s|ened)?|improv(?:ed|ing|ement|ements)|"
    r"timely|prompt(?:ly)?|swift(?:ly)?|robust(?:ly)?|thorough(?:ly)?|clear(?:ly)?|"
    r"comprehensive(?:ly)?|appropriate(?:ly)?|excellent|outstanding|high[- ]quality|"
    r"positive(?:ly)?|benefit(?:s|ed|ing)?|purposeful(?:ly)?|creative(?:ly)?|sensitive(?:ly)?|"
    r"consistent(?:ly)?|successful(?:ly)?|detailed|meaningful|valued|manageable|"
    r"established|embedded|ensur(?:e|es|ed|ing)|supported|helpful|impressive|exceptional|"
    r"proactive(?:ly)?|regular(?:ly)?|skilled|experienced|qualified|committed|ambitious|"
    r"highly|quickly|safe(?:r|ly)?|accurate(?:ly)?|secure(?:d)?|stable|stability|"
    r"understand(?:s)?|know(?:s)? (?:them|their|children)|in place|met|meets|"
    r"satisfactor(?:y|ily)|adequate(?:ly)?|responsive|focus(?:ed)?|insightful|"
    r"effectively|well-(?:established|managed|coordinated|targeted|considered)|progress(?:ed)?)\b",
    re.I,
)

# Sentences that describe rather than judge.
_NEUTRAL_START = re.compile(
    r"^(?:inspectors (?:looked|considered|evaluated|reviewed|met|spoke|sampled|read|tracked|"
    r"also)|this (?:visit|letter|inspection|report)|the (?:visit|inspection) (?:was|took)|"
    r"at the time of (?:the|this) (?:visit|inspection)|in \w+ \d{4},|since \w+ \d{4},? the)",
    re.I,
)
# Wording that makes a finding a development point whatever else it says.
_ASKS_FOR_CHANGE = re.compile(
    r"\b(?:recommend(?:s|ed|ation|ations)?|should|must|needs? (?:to|further )?improve(?:ment|d)?|"
    r"improvement is needed|requires? (?:further )?improvement|needs? to be|not yet|warns?)\b", re.I)
_CONTRAST = re.compile(r"\b(?:but|however|although|though|while|whilst|despite|yet)\b", re.I)
_DOUBLE_NEG = re.compile(r"\b(?:no|not|without)\s+(?:unnecessary |undue |significant )?delays?\b|"
                         r"\bno (?:child|children|cases?) (?:were|was|are|is) (?:left|seen)|"
                         r"\bdo not wait\b|\bwithout delay\b", re.I)


# Unambiguous criticism: per the spec a finding that is also positive is still
# a development point.
_STRONG_NEGATIVE = re.compile(
    r"\b(?:not (?:always|consistently|all|every|sufficiently|enough|routinely|yet|fully|"
    r"effective|timely|robust|clear|good enough)|lack(?:s|ing)? of|insufficient(?:ly)?|"
    r"inadequate(?:ly)?|ineffective|poor(?:ly)?|weak(?:er|ness|nesses)?|drift|"
    r"inconsisten(?:t|tly|cy|cies)|too (?:long|many|slow|few|late|much|often)|delays?|"
    r"shortfalls?|deteriorat(?:ed|ing|ion)|backlogs?|overdue|out of date|unsafe|"
    r"less (?:effective|robust|consistent|well)|variab(?:le|ility)|fail(?:s|ed|ing|ure|ures)? to)\b",
    re.I)

# Words after which a positive word is negated: "a lack of robust scrutiny",
# "not always sufficiently robust", "insufficient management grip".
_NEGATOR = re.compile(r"\b(?:not|no|never|lack(?:s|ing)?(?: of)?|insufficient(?:ly)?|without|"
                      r"absence of|limited|less|fail(?:s|ed)? to|too few|in(?:sufficiently)?)\b",
                      re.I)
_SCOPE_WORDS = 4


def _negated_positions(text: str) -> list[tuple[int, int]]:
    """Character ranges within a few words after a negator."""
    ranges = []
    for match in _NEGATOR.finditer(text):
        end = match.end()
        for _ in range(_SCOPE_WORDS):
            word = re.compile(r"\s*[\w’'-]+").match(text, end)
            if not word:
                break
            end = word.end()
        ranges.append((match.end(), end))
    return ranges


def judge_wording(text: str) -> str:
    """strength, development or neutral for one finding's text."""
    plain = _DOUBLE_NEG.sub(" promptly ", text)
    if _ASKS_FOR_CHANGE.search(plain):
        return "development"
    if _STRONG_NEGATIVE.search(plain):
        return "development"
    negative = len(_NEGATIVE.findall(plain))
    scopes = _negated_positions(plain)
    positive = 0
    for match in _POSITIVE.finditer(plain):
        if any(a <= match.start() < b for a, b in scopes):
            negative += 1
        else:
            positive += 1
    if negative and (negative >= positive or _CONTRAST.search(plain)):
        return "development"
    if positive:
        if _NEUTRAL_START.search(text) and positive < 2:
            return "neutral"
        return "strength"
    if negative:
        return "development"
    return "neutral"
