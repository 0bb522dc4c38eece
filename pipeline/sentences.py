"""Sentence boundaries in inspection prose.

A rule splitter rather than a statistical one: the prose is formal, the
exceptions are few and known (abbreviations, initials, "e.g."), and every
character must land in exactly one sentence, which this guarantees.
"""

from __future__ import annotations

import re

_ABBREVIATIONS = {
    "e.g", "i.e", "eg", "ie", "etc", "mr", "mrs", "ms", "dr", "st", "no", "nos", "para", "paras",
    "cf", "vs", "approx", "prof", "cllr", "inc", "ltd", "co", "fig", "vol", "ch", "p", "pp",
    "rev", "hon", "sgt", "insp", "det", "ref",
}

# A full stop, question or exclamation mark, closing quotes or brackets, then
# space and the start of a new sentence.
_BOUNDARY = re.compile(r"[.!?][\"'’”)\]]*(?=\s+[\"'‘“(\[]?[A-Z0-9◼•\-])")
_ANNOTATION = re.compile(r"^\([^()]{1,60}\)[.;]?$")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_LOOK_BACK = 32


def _word_before(text: str, end: int) -> re.Match | None:
    """The run of word characters and dots that ends at ``end``. Searched for in a
    window that widens while the run fills it: searching from the text's start made
    splitting a long paragraph quadratic."""
    start = max(0, end - _LOOK_BACK)
    word = _WORD_BEFORE.search(text, start, end)
    while word is not None and word.start() == start and start > 0:
        start = max(0, end - 2 * (end - start))
        word = _WORD_BEFORE.search(text, start, end)
    return word


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence of ``text``; together they cover all of it
    but the white space between sentences."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        if text[match.start()] == ".":
            word = _word_before(text, match.start())
            if _is_abbreviation(word):
                continue
            # An initial ("Fiona J. Millns") or a section number ("para 3.")
            if word and len(word.group(1)) == 1 and word.group(1).isupper():
                continue
        if text[start:end].strip():
            spans.append(_trim(text, start, end))
        start = end
    if text[start:].strip():
        spans.append(_trim(text, start, len(text)))
    # "(Recommendation)" or "(paragraph 26)" after a full stop annotates the
    # sentence before it.
    merged: list[tuple[int, int]] = []
    for span in spans:
        if merged and _ANNOTATION.match(text[span[0]:span[1]]):
            merged[-1] = (merged[-1][0], span[1])
        else:
            merged.append(span)
    return merged


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def ends_with_abbreviation(text: str) -> bool:
    """True if ``text`` ends with an abbreviation's full stop ("e.g.", "Mr.")."""
    text = text.rstrip()
    if not text.endswith("."):
        return False
    return _is_abbreviation(_word_before(text, len(text) - 1))


def _is_abbreviation(word: re.Match | None) -> bool:
    """Whether the word before a full stop (from `_word_before`) is an abbreviation."""
    token = word.group(1).lower() if word else ""
    return token in _ABBREVIATIONS or token.rstrip(".") in _ABBREVIATIONS


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]
