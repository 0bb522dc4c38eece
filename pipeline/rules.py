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

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from .errors import LabelsError
from .labelset import iter_rows
from .themes import Taxonomy

DEFAULT_PATTERNS = Path("labels/patterns.jsonl")
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

    def spacy_pattern(self) -> dict:
        label = (VETO_PREFIX + self.label) if self.veto else self.label
        return {"label": label, "pattern": self.pattern, "id": self.id}


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
        elif not (isinstance(pattern, list) and pattern and all(isinstance(t, dict) for t in pattern)):
            raise LabelsError(f"rule {rule_id!r}: invalid pattern", path=str(path), line=number,
                              fix="a pattern is a phrase string or a list of token specs "
                                  '(e.g. [{"LEMMA": "delay"}])')
        patterns.append(Pattern(rule_id, label, pattern, bool(row.get("veto")), number, str(path)))
    return patterns


def _register_lemmatizer() -> None:
    """A lookup lemmatizer that looks words up in lower case.

    spaCy's lookup lemmatizer uses the word as written, so "Delays" at the start
    of a sentence would not be lemmatised; findings start with capitals.
    """
    from spacy.language import Language
    from spacy.pipeline import Lemmatizer

    if "lower_lookup_lemmatizer" in Language.factories:
        return

    class LowerLookupLemmatizer(Lemmatizer):
        def lookup_lemmatize(self, token):
            table = self.lookups.get_table("lemma_lookup", {})
            lower = token.lower_
            return [table.get(lower, lower)]

    @Language.factory("lower_lookup_lemmatizer", default_config={"overwrite": True})
    def make_lemmatizer(nlp, name, overwrite):
        return LowerLookupLemmatizer(nlp.vocab, None, name, mode="lookup", overwrite=overwrite)


def build_nlp(patterns: Sequence[Pattern]):
    """spacy.blank("en") with the lookup lemmatizer and a span_ruler holding ``patterns``."""
    import spacy
    from spacy.lookups import load_lookups

    _register_lemmatizer()
    nlp = spacy.blank("en")
    lemmatizer = nlp.add_pipe("lower_lookup_lemmatizer")
    lemmatizer.lookups = load_lookups("en", ["lemma_lookup"])
    ruler = nlp.add_pipe("span_ruler", config={"spans_key": SPANS_KEY, "validate": True,
                                                "phrase_matcher_attr": "LOWER",
                                                "overwrite": False})
    for pattern in patterns:
        try:
            # Phrase patterns are matched on LOWER: make them without running the
            # lemmatizer (faster, and spaCy warns otherwise).
            with nlp.select_pipes(disable=["lower_lookup_lemmatizer"]):
                ruler.add_patterns([pattern.spacy_pattern()])
        except Exception as exc:  # spaCy raises ValueError/MatchPatternError with a long report
            reason = str(exc).strip().splitlines()[-1][:160]
            raise LabelsError(f"rule {pattern.id!r}: invalid spaCy pattern ({reason})",
                              line=pattern.line, path=pattern.path,
                              fix="see https://spacy.io/usage/rule-based-matching") from None
    return nlp


class RuleTagger:
    """Tags texts with the themes whose patterns match, with the evidence."""

    def __init__(self, patterns: Sequence[Pattern], taxonomy: Taxonomy):
        self.patterns = list(patterns)
        self.taxonomy = taxonomy
        self.nlp = build_nlp(self.patterns)

    def results(self, doc) -> RuleResult:
        evidence: dict[str, list[Evidence]] = {t: [] for t in self.taxonomy.ids}
        vetoes: dict[str, list[tuple[int, int]]] = {}
        for span in doc.spans[SPANS_KEY]:
            label = span.label_
            if label.startswith(VETO_PREFIX):
                vetoes.setdefault(label[len(VETO_PREFIX):], []).append((span.start_char, span.end_char))
            elif label in evidence:
                evidence[label].append(Evidence(span.start_char, span.end_char, span.text, span.id_))
        for theme, blocked in vetoes.items():
            if theme in evidence:
                evidence[theme] = [e for e in evidence[theme]
                                   if not any(a < e.end and e.start < b for a, b in blocked)]
        for theme in evidence:
            evidence[theme].sort(key=lambda e: (e.start, e.end, e.rule))
        return RuleResult({t: spans for t, spans in evidence.items() if spans})

    def tag(self, texts: Iterable[str], batch_size: int = 256) -> list[RuleResult]:
        return [self.results(doc) for doc in self.nlp.pipe(texts, batch_size=batch_size)]

    def matches(self, texts: Iterable[str], batch_size: int = 256):
        """Per text, every raw match (including vetoed and veto spans): (rule id, label, start, end)."""
        for doc in self.nlp.pipe(texts, batch_size=batch_size):
            yield [(s.id_, s.label_, s.start_char, s.end_char) for s in doc.spans[SPANS_KEY]]
