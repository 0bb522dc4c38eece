"""The rule-based tagger: theme patterns as data, run by spaCy's span_ruler.

Patterns live in ``labels/patterns.jsonl``, one per line, each with a rule id,
a theme label and a spaCy pattern: a token pattern (a list of token specs,
matched on lemmas so that "delay" covers "delays" and "delayed") or a phrase
(a string, matched on lower-case text). A pattern with ``"veto": true``
removes the theme's matches that it overlaps ("supervised contact" is family
time, not supervision). Every tag carries its evidence: the matched span's
offsets into the finding, its words and the rule id.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from .errors import LabelsError
from .labelset import iter_rows
from .themes import Taxonomy

DEFAULT_PATTERNS = Path("labels/patterns.jsonl")
_HYPHEN = re.compile(r"(?<=\w)[-‐‑–](?=\w)")
SPANS_KEY = "themes"
VETO_PREFIX = "veto:"


@dataclass(frozen=True)
class Pattern:
    id: str
    label: str
    pattern: object        # list of token specs, or a phrase string
    veto: bool
    line: int
    path: str = str(DEFAULT_PATTERNS)

    def spacy_patterns(self, lexicon: "Lexicon") -> list[tuple[str | None, dict]]:
        """(phrase attribute, span_ruler entry) pairs for this rule.

        The span_ruler's Matcher tests every token pattern at every token: with
        these patterns it cost ~2 ms a finding, its phrase matcher ~5 us. So a
        token pattern of LEMMA/LOWER tokens (plain or ``IN`` lists, optional) is
        compiled into the lemma sequences it can match, for a phrase matcher on
        lemmas (one phrase per lemma, not per word form: ten times fewer phrases
        to build); one of ORTH tokens into exact word sequences. A LOWER token
        that allows some forms of a lemma but not others makes the lemma phrases
        match more than the pattern: ``Lexicon.checks`` then names the rule, and
        its matches are checked against the pattern itself. Others (wildcards)
        stay token patterns (attribute None).
        """
        label = (VETO_PREFIX + self.label) if self.veto else self.label
        if isinstance(self.pattern, str):
            compiled = ("LOWER", [self.pattern])
        else:
            compiled = _phrases(self.pattern, lexicon, self.id)
        if compiled is None:
            return [(None, {"label": label, "pattern": self.pattern, "id": self.id})]
        attr, phrases = compiled
        return [(attr, {"label": label, "pattern": phrase, "id": self.id}) for phrase in phrases]


class Lexicon:
    """The lookup lemma table both ways (word -> lemma, lemma -> every word), and
    what compiling patterns to lemma phrases needs to know about the tokenizer."""

    def __init__(self, table, tokenizer=None):
        self.table = table
        self.tokenizer = tokenizer
        self._words: dict[str, set[str]] | None = None
        self._single: dict[str, bool] = {}
        # rule id -> slots, for rules whose lemma phrases match more than the pattern
        self.checks: dict[str, list[tuple[str, frozenset, bool]]] = {}

    def lemma_of(self, word: str) -> str:
        return self.table.get(word, word)

    def words_for(self, lemma: str) -> set[str]:
        """Every lower-case word the lemmatizer gives ``lemma`` for."""
        if self._words is None:
            words: dict[str, set[str]] = {}
            for key, value in self.table.items():
                words.setdefault(value, set()).add(key)
            self._words = words
        found = set(self._words.get(lemma, ()))
        if self.lemma_of(lemma) == lemma:
            found.add(lemma)
        return found

    def one_token(self, word: str) -> bool:
        """Whether the tokenizer keeps ``word`` whole ("children's" is two tokens,
        so a token pattern's "children's" never matched anything)."""
        if self.tokenizer is None:
            return True
        if word not in self._single:
            self._single[word] = len(self.tokenizer(word)) == 1
        return self._single[word]

    def representative(self, lemma: str) -> str | None:
        """A word whose lemma is ``lemma`` (the lemma itself where it is its own)."""
        words = sorted(w for w in self.words_for(lemma) if self.one_token(w))
        if lemma in words:
            return lemma
        return words[0] if words else None


@dataclass
class Evidence:
    start: int
    end: int
    text: str
    rule: str

    def as_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text, "rule": self.rule}


@dataclass
class RuleResult:
    evidence: dict[str, list[Evidence]]

    @property
    def themes(self) -> list[str]:
        return sorted(t for t, spans in self.evidence.items() if spans)


_MAX_PHRASES = 50_000


def _phrases(pattern: list[dict], lexicon: Lexicon, rule_id: str = "") -> tuple[str, list[str]] | None:
    """(attribute, phrases) that match what ``pattern`` matches, or None.

    LEMMA and LOWER tokens become lemma phrases (attribute LEMMA); ORTH tokens
    exact word phrases (ORTH). Where a LOWER token leaves out forms of one of its
    lemmas, the rule is registered in ``lexicon.checks`` with its slots."""
    attrs = set()
    slots: list[list[str | None]] = []
    check: list[tuple[str, frozenset, bool]] = []
    exact = True
    for token in pattern:
        keys = [k for k in token if k != "OP"]
        op = token.get("OP")
        if len(keys) != 1 or op not in (None, "?"):
            return None
        attr, value = keys[0], token[keys[0]]
        values = value.get("IN") if isinstance(value, dict) and set(value) == {"IN"} else (
            [value] if isinstance(value, str) else None)
        if not values or not all(isinstance(v, str) for v in values):
            return None
        if attr == "ORTH":
            words = {v for v in values if lexicon.one_token(v)}
            attrs.add("ORTH")
        elif attr in ("LEMMA", "LOWER"):
            attrs.add("LEMMA")
            if attr == "LEMMA":
                lemmas = {v.lower() for v in values}
                check.append(("LEMMA", frozenset(lemmas), op == "?"))
            else:
                lower = {v.lower() for v in values if lexicon.one_token(v.lower())}
                lemmas = {lexicon.lemma_of(w) for w in lower}
                if any(not lexicon.words_for(lemma) <= lower for lemma in lemmas):
                    exact = False
                check.append(("LOWER", frozenset(lower), op == "?"))
            words = {w for w in (lexicon.representative(lemma) for lemma in lemmas) if w}
        else:
            return None
        slot: list[str | None] = sorted(words)
        if op == "?":
            slot.append(None)
        slots.append(slot)
    if len(attrs) != 1:
        return None
    count = 1
    for slot in slots:
        count *= len(slot)
    if count > _MAX_PHRASES:
        return None
    phrases = {" ".join(w for w in combo if w) for combo in itertools.product(*slots)}
    phrases.discard("")
    attr = attrs.pop()
    if attr == "LEMMA" and not exact:
        lexicon.checks[rule_id] = check
    return attr, sorted(phrases)


def fits(tokens: Sequence[tuple[str, str]], slots: Sequence[tuple[str, frozenset, bool]]) -> bool:
    """Whether (lower, lemma) tokens match the slots (attribute, values, optional) exactly."""
    def match(i: int, j: int) -> bool:
        if j == len(slots):
            return i == len(tokens)
        attr, values, optional = slots[j]
        if optional and match(i, j + 1):
            return True
        if i < len(tokens) and tokens[i][0 if attr == "LOWER" else 1] in values:
            return match(i + 1, j + 1)
        return False

    return match(0, 0)


def _token_values(pattern: list[dict]) -> Iterator[str]:
    """Every string a token pattern compares words with (plain, IN and NOT_IN lists)."""
    for token in pattern:
        for key, value in token.items():
            if key == "OP":
                continue
            if isinstance(value, str):
                yield value
            elif isinstance(value, dict):
                for listed in value.values():
                    if isinstance(listed, list):
                        yield from (v for v in listed if isinstance(v, str))


def load_patterns(path: str | Path, taxonomy: Taxonomy) -> list[Pattern]:
    """Patterns of ``path``; malformed lines, unknown themes and duplicate ids are
    errors naming the file and line."""
    path = Path(path)
    if not path.exists():
        raise LabelsError("patterns file not found", path=str(path),
                          fix="run from the repository root or pass --patterns")
    patterns: list[Pattern] = []
    seen: dict[str, int] = {}
    for number, row in iter_rows(path):
        rule_id = row.get("id")
        if not isinstance(rule_id, str) or not rule_id.strip():
            raise LabelsError("pattern without a rule id", path=str(path), line=number,
                              fix='give it an "id" such as "timeliness/delay"')
        if rule_id in seen:
            raise LabelsError(f"duplicate rule id {rule_id!r} (first on line {seen[rule_id]})",
                              path=str(path), line=number, fix="rule ids must be unique")
        seen[rule_id] = number
        label = taxonomy.check(row.get("label"), path, number)
        pattern = row.get("pattern")
        if isinstance(pattern, str):
            if not pattern.strip():
                raise LabelsError(f"rule {rule_id!r}: empty phrase", path=str(path),
                                  line=number, fix="give the phrase to match")
            # the text is matched with hyphens between words read as spaces: so is the phrase
            pattern = _HYPHEN.sub(" ", pattern)
        elif not (isinstance(pattern, list) and pattern and all(isinstance(t, dict) for t in pattern)):
            raise LabelsError(f"rule {rule_id!r}: invalid pattern", path=str(path), line=number,
                              fix="a pattern is a phrase string or a list of token specs "
                                  '(e.g. [{"LEMMA": "delay"}])')
        if isinstance(pattern, list):
            for value in _token_values(pattern):
                if _HYPHEN.search(value):
                    raise LabelsError(
                        f"rule {rule_id!r}: token value {value!r} can never match", path=str(path),
                        line=number, fix="hyphens between words are read as spaces before matching: "
                                         "write the words as separate tokens")
        patterns.append(Pattern(rule_id, label, pattern, bool(row.get("veto")), number, str(path)))
    return patterns


def _register_lemmatizer() -> None:
    """A lookup lemmatizer that looks words up in lower case, a whole doc at a time.

    spaCy's lookup lemmatizer uses the word as written, so "Delays" at the start
    of a sentence would not be lemmatised; findings start with capitals. It also
    visits every token in Python, which was a third of the rules' time; this one
    maps each distinct lower-case form once (cached across docs) and writes the
    lemmas in one ``Doc.from_array`` call.
    """
    from spacy.language import Language

    if "lower_lookup_lemmatizer" in Language.factories:
        return

    @Language.factory("lower_lookup_lemmatizer")
    def make_lemmatizer(nlp, name):
        return LowerLookupLemmatizer(nlp.vocab)


class LowerLookupLemmatizer:
    """The lemma of each token: the lookup table's entry for its lower-case form."""

    def __init__(self, vocab):
        self.vocab = vocab
        self.table: dict[str, str] = {}
        self._cache: dict[int, int] = {}   # lower-case hash -> lemma hash

    def set_table(self, table: dict[str, str]) -> None:
        self.table = table
        self._cache.clear()

    def __call__(self, doc):
        import numpy as np
        from spacy.attrs import LEMMA, LOWER

        if not len(doc):
            return doc
        if len(doc) <= 8:
            # a phrase pattern (thousands of them at start-up): arrays cost more than tokens
            for token in doc:
                token.lemma = self._lemma(token.lower)
            return doc
        lowers = doc.to_array(LOWER)
        # a long doc (a letter's findings) looks each distinct word up once
        inverse = None
        if len(lowers) > 64:
            lowers, inverse = np.unique(lowers, return_inverse=True)
        values = np.array([self._lemma(lower) for lower in lowers.tolist()], dtype=np.uint64)
        if inverse is not None:
            values = values[inverse.reshape(-1)]
        doc.from_array([LEMMA], values.reshape(-1, 1))
        return doc

    def _lemma(self, lower: int) -> int:
        """The lemma's hash for a lower-case form's hash."""
        lemma = self._cache.get(lower)
        if lemma is None:
            strings = self.vocab.strings
            word = strings[lower]
            lemma = self._cache[lower] = strings.add(self.table.get(word, word))
        return lemma


def lemma_table() -> dict[str, str]:
    """English word -> lemma, from the spacy-lookups-data package (installed, not downloaded)."""
    import importlib.resources

    import srsly

    path = importlib.resources.files("spacy_lookups_data") / "data" / "en_lemma_lookup.json.gz"
    with importlib.resources.as_file(path) as file:
        return srsly.read_gzip_json(file)


def build_nlp(patterns: Sequence[Pattern]):
    """spacy.blank("en") with the lookup lemmatizer and span_rulers holding ``patterns``;
    returns the pipeline and the rules whose matches must be checked (``fits``)."""
    import spacy

    _register_lemmatizer()
    nlp = spacy.blank("en")
    lemmatizer = nlp.add_pipe("lower_lookup_lemmatizer")
    table = lemma_table()
    lemmatizer.set_table(table)
    lexicon = Lexicon(table, nlp.tokenizer)
    # span_rulers writing to the same spans: lemma phrases (most rules), lower-case
    # phrases (which also runs the few token patterns) and case-sensitive phrases.
    # A ruler is only added when it gets patterns (an empty one warns on every call).
    # The few token patterns (with wildcards) go to a ruler of their own that only
    # runs on texts holding one of their first words (``RuleTagger.gate``): spaCy's
    # Matcher tests every token pattern at every token, which cost as much as all
    # the phrase matching.
    names = {"LEMMA": "span_ruler_lemma", "LOWER": "span_ruler", "ORTH": "span_ruler_orth",
             None: TOKEN_RULER}
    rulers: dict[str | None, object] = {}

    def ruler(attr: str | None):
        if attr not in rulers:
            rulers[attr] = nlp.add_pipe("span_ruler", name=names[attr], config={
                "spans_key": SPANS_KEY, "validate": True, "phrase_matcher_attr": attr or "LOWER",
                "overwrite": False})
        return rulers[attr]

    first_words: set[str] | None = set()
    for pattern in patterns:
        try:
            entries = pattern.spacy_patterns(lexicon)
            for _, entry in entries:
                if isinstance(entry["pattern"], list) and first_words is not None:
                    words = _first_words(entry["pattern"], lexicon)
                    first_words = None if words is None else first_words | words
            for attr in ("LEMMA", "LOWER", "ORTH", None):
                group = [e for a, e in entries if a == attr]
                if group:
                    target = ruler(attr)
                    # phrases need the tokenizer (and, for lemma phrases, the lemmatizer):
                    # the other pipes stay off while adding
                    keep = {names[attr]} | ({"lower_lookup_lemmatizer"} if attr == "LEMMA" else set())
                    with nlp.select_pipes(disable=[n for n in nlp.pipe_names if n not in keep]):
                        target.add_patterns(group)
        except Exception as exc:  # spaCy raises ValueError/MatchPatternError with a long report
            reason = str(exc).strip().splitlines()[-1][:160]
            raise LabelsError(f"rule {pattern.id!r}: invalid spaCy pattern ({reason})",
                              line=pattern.line, path=pattern.path,
                              fix="see https://spacy.io/usage/rule-based-matching") from None
    return nlp, lexicon.checks, _gate(first_words)


TOKEN_RULER = "span_ruler_tokens"
_JOIN = "\n\n"
_JOINED_MAX_CHARS = 500_000   # spaCy refuses a text over nlp.max_length (1,000,000)


def _chunks(texts: Sequence[str], limit: int) -> Iterator[tuple[int, int]]:
    """(first, last) index ranges of ``texts`` whose joined length stays under ``limit``."""
    first, size = 0, 0
    for i, text in enumerate(texts):
        if i > first and size + len(text) > limit:
            yield first, i
            first, size = i, 0
        size += len(text) + len(_JOIN)
    if first < len(texts):
        yield first, len(texts)


def _first_words(tokens: list[dict], lexicon: "Lexicon") -> set[str] | None:
    """The lower-case words a token pattern's first token can be; None if any word."""
    if not tokens or tokens[0].get("OP", "+") != "+":
        return None  # optional, negated or counted: the pattern may start at any word
    spec = tokens[0]
    words: set[str] = set()
    for attr, value in spec.items():
        if attr == "OP":
            continue
        values = value.get("IN") if isinstance(value, dict) else [value]
        if attr not in ("LOWER", "ORTH", "LEMMA") or not isinstance(values, list):
            return None
        for v in values:
            v = str(v).lower()
            words |= lexicon.words_for(v) | {v} if attr == "LEMMA" else {v}
        return words
    return None


def _gate(first_words: set[str] | None) -> frozenset[str] | None:
    """The lower-case words some token pattern can start with: a doc with none of them
    as a token cannot match. None: there are no token patterns. An empty set: a
    pattern may start at any word, so the token ruler runs on every doc."""
    if first_words is None:
        return frozenset()
    if not first_words:
        return None
    return frozenset(first_words)


class RuleTagger:
    """Tags texts with the themes whose patterns match, with the evidence."""

    def __init__(self, patterns: Sequence[Pattern], taxonomy: Taxonomy):
        self.patterns = list(patterns)
        self.taxonomy = taxonomy
        self.nlp, self.checks, self.gate = build_nlp(self.patterns)

    def _raw(self, doc, *bounds: int) -> dict[int, list[tuple[int, int, str, str]]]:
        """The doc's matches, by text: ``bounds`` are the texts' (start, end) offsets in
        the doc, in order; a match is (start, end, label, rule id) within its text.
        A match across two texts (only a token pattern's wildcard could) is dropped."""
        from bisect import bisect_right

        starts, ends = bounds[0::2], bounds[1::2]
        checks, strings = self.checks, doc.vocab.strings
        found: dict[int, list[tuple[int, int, str, str]]] = {}
        lower_lemma = None
        for span in doc.spans.get(SPANS_KEY, ()):
            start, end = span.start_char, span.end_char
            text = bisect_right(starts, start) - 1
            if text < 0 or end > ends[text]:
                continue
            rule = span.id_
            slots = checks.get(rule)
            if slots is not None:
                if lower_lemma is None:
                    from spacy.attrs import LEMMA, LOWER

                    lower_lemma = doc.to_array([LOWER, LEMMA])
                words = [(strings[a], strings[b])
                         for a, b in lower_lemma[span.start:span.end].tolist()]
                if not fits(words, slots):
                    continue  # the lemma phrase allowed a word form the pattern does not
            offset = starts[text]
            found.setdefault(text, []).append((start - offset, end - offset, span.label_, rule))
        return found

    def _result(self, original: str, matches: list[tuple[int, int, str, str]]) -> RuleResult:
        evidence: dict[str, list[Evidence]] = {}
        vetoes: dict[str, list[tuple[int, int]]] = {}
        themes = self.taxonomy.ids
        for start, end, label, rule in matches:
            if label.startswith(VETO_PREFIX):
                vetoes.setdefault(label[len(VETO_PREFIX):], []).append((start, end))
            elif label in themes:
                evidence.setdefault(label, []).append(Evidence(start, end, original[start:end], rule))
        for theme, blocked in vetoes.items():
            if theme in evidence:
                evidence[theme] = [e for e in evidence[theme]
                                   if not any(a < e.end and e.start < b for a, b in blocked)]
        for theme, spans in evidence.items():
            if len(spans) > 1:
                # a pattern with optional words matches "improvements have" and
                # "improvements have been made" alike: keep only the longest of a rule's spans
                spans = [e for e in spans
                         if not any(o is not e and o.rule == e.rule and o.start <= e.start
                                    and e.end <= o.end and (o.end - o.start) > (e.end - e.start)
                                    for o in spans)]
                spans = sorted({(e.start, e.end, e.rule): e for e in spans}.values(),
                               key=lambda e: (e.start, e.end, e.rule))
            evidence[theme] = spans
        return RuleResult({t: evidence[t] for t in themes if evidence.get(t)})

    def tag(self, texts: Iterable[str]) -> list[RuleResult]:
        """Each text's themes with their evidence."""
        originals = list(texts)
        found = self._found(originals)
        return [self._result(text, found.get(i, [])) for i, text in enumerate(originals)]

    def matches(self, texts: Iterable[str]) -> list[list[tuple[str, str, int, int]]]:
        """Per text, every match the tagger reads, before vetoes and the longest-span
        choice (veto spans included): (rule id, label, start, end)."""
        return self.tag_with_matches(texts)[1]

    def tag_with_matches(self, texts: Iterable[str]) -> tuple[list[RuleResult], list[list[tuple[str, str, int, int]]]]:
        """`tag` and `matches` of the same texts, matched once (for the rules report)."""
        originals = list(texts)
        found = self._found(originals)
        return ([self._result(text, found.get(i, [])) for i, text in enumerate(originals)],
                [[(rule, label, start, end) for start, end, label, rule in found.get(i, [])]
                 for i in range(len(originals))])

    def _found(self, originals: list[str]) -> dict[int, list[tuple[int, int, str, str]]]:
        """The texts' matches, by text. The texts (a letter's findings) are matched as
        one doc, joined by blank lines: tokens never cross white space, so every text
        gets the tokens and matches it would get alone, without a doc and a pass of
        every pipe per finding. Hyphens between words are read as spaces ("early-help"
        is "early help"): one pattern then covers both spellings, and patterns need no
        optional hyphen tokens, which made matching several times slower; offsets are
        kept, so evidence is cut from the original. The few token patterns run on a
        second doc of only the texts holding a word they can start with (``gate``):
        spaCy's Matcher costs about a microsecond a token, as much as all the phrase
        matching."""
        # white space at a text's end would merge with the blank line joining it to the
        # next into one token: such a text (callers strip findings) is matched alone
        joinable = [i for i, text in enumerate(originals) if text == text.strip()]
        found: dict[int, list[tuple[int, int, str, str]]] = {}
        batches = [joinable[a:b] for a, b in _chunks([originals[i] for i in joinable],
                                                      _JOINED_MAX_CHARS)]
        batches += [[i] for i, text in enumerate(originals) if text != text.strip()]
        for batch in batches:
            group = [originals[i] for i in batch]
            matches = self._matches_joined(group, [TOKEN_RULER])
            if self.gate is not None:
                gated = [i for i, text in enumerate(group) if self._may_match_tokens(text)]
                if gated:
                    extra = self._matches_joined([group[i] for i in gated],
                                                 [n for n in self.nlp.pipe_names
                                                  if n.startswith("span_ruler") and n != TOKEN_RULER])
                    for j, more in extra.items():
                        matches.setdefault(gated[j], []).extend(more)
            for j, more in matches.items():
                found[batch[j]] = more
        return found

    def _may_match_tokens(self, text: str) -> bool:
        """Whether a token pattern can match: some word it starts with is in the text
        (a substring test, so never a miss; an empty gate lets every text through)."""
        if not self.gate:
            return True
        lower = text.lower()
        return any(word in lower for word in self.gate)

    def _matches_joined(self, texts: list[str], disable: list[str]):
        bounds: list[int] = []
        offset = 0
        for text in texts:
            bounds += (offset, offset + len(text))
            offset += len(text) + len(_JOIN)
        with self.nlp.select_pipes(disable=[n for n in disable if n in self.nlp.pipe_names]):
            doc = self.nlp(_HYPHEN.sub(" ", _JOIN.join(texts)))
        return self._raw(doc, *bounds)
