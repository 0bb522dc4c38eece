"""The vectorised TF-IDF transform must give scikit-learn's features to the last bit,
and the quicker template and sentence checks of segmentation the same answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from conftest import segmented_seeds
from pipeline.fastvec import TokenCache, compiled, transform_union
from pipeline.model import _lemmas, _words, build_features

AWKWARD = [
    "", "   ", "a", "ab", "I  am\tok\nthen", "x" * 300, "don't won’t children's",
    "emoji 😀 outside the basic plane 𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "İstanbul and the Kelvin sign \u212a, long s ſ",
    "NUL\x00inside", "non\u00a0breaking and zero\u200bwidth", "MIXED Case WORDS words",
    "delay delay delay drift", "3.5 weeks, 12 children; 100% of plans",
]


@pytest.fixture(scope="module")
def seed_texts() -> list[str]:
    texts = [f.text for seg in segmented_seeds() for f in seg.findings]
    assert len(texts) > 100
    return texts


def identical(a, b) -> bool:
    a, b = a.tocsr(), b.tocsr()
    return (a.shape == b.shape and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices) and np.array_equal(a.data, b.data))


@pytest.mark.parametrize("options", [
    dict(tokenizer=_words, token_pattern=None, lowercase=False, ngram_range=(1, 2)),
    dict(tokenizer=_words, token_pattern=None, lowercase=False, ngram_range=(1, 3), min_df=2),
    dict(tokenizer=_words, token_pattern=None, lowercase=False, ngram_range=(2, 3), norm="l1"),
    dict(tokenizer=_lemmas, token_pattern=None, lowercase=False, ngram_range=(1, 2)),
    dict(analyzer="char_wb", ngram_range=(4, 4), max_features=3000),
    dict(analyzer="char_wb", ngram_range=(3, 4)),
    dict(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=False, use_idf=False),
], ids=["words-1-2", "words-1-3", "words-2-3-l1", "lemmas-1-2", "chars-4", "chars-3-4",
        "chars-2-5-tf"])
def test_compiled_transform_is_scikit_learns_to_the_last_bit(seed_texts, options):
    vectorizer = TfidfVectorizer(**{"sublinear_tf": True, **options}).fit(seed_texts[::2] + AWKWARD)
    fast = compiled(vectorizer)
    assert fast.kind in ("words", "char_wb")
    texts = seed_texts + AWKWARD
    assert identical(fast.transform(texts), vectorizer.transform(texts))
    # letter by letter, with one cache for several calls, as the tagger runs
    cache = TokenCache()
    for part in (texts[:40], texts[40:41], texts[41:], AWKWARD[::-1]):
        assert identical(fast.transform(part, cache), vectorizer.transform(part))


def test_other_vectorizers_are_left_to_scikit_learn(seed_texts):
    vectorizer = TfidfVectorizer(analyzer="char", ngram_range=(2, 3)).fit(seed_texts)
    fast = compiled(vectorizer)
    assert fast.kind is None
    assert identical(fast.transform(seed_texts[:20]), vectorizer.transform(seed_texts[:20]))


def test_the_models_features_equal_the_feature_union(seed_texts):
    """The theme model's whole FeatureUnion (text, paragraph, previous sentence, section,
    rule blocks) computed block by block equals scikit-learn's transform."""
    themes = ["timeliness", "workforce"]
    records = []
    for i, text in enumerate(seed_texts):
        paragraph = " ".join(seed_texts[i - i % 3:i - i % 3 + 3])   # shared by three findings
        records.append({"text": text, "context": paragraph, "previous": seed_texts[i - 1] if i else "",
                        "section": "Areas for improvement" if i % 2 else "",
                        "rule_ids": ["timeliness/delay"] if "delay" in text else [],
                        "rule_early": ["timeliness"] if i % 5 == 0 else [], "rule_multi": []})
    y = np.array([[("delay" in r["text"]) * 1, ("staff" in r["text"]) * 1] for r in records])
    params = {"word_ngrams": [1, 2], "char_ngrams": [4, 4], "use_char": True, "min_df": 2,
              "rule_features": True, "context_features": True, "context_weight": 1.5,
              "previous_weight": 1.0, "section_features": True}
    union = build_features(themes, params).fit(records, y)
    fresh = [dict(r, text=r["text"].upper()) for r in records[:30]] + records[30:]
    assert identical(transform_union(union, fresh), union.transform(fresh))


def test_compiled_vectorizers_do_not_outlive_their_models(seed_texts):
    import gc
    import weakref

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(4, 4)).fit(seed_texts[:20])
    fast = weakref.ref(compiled(vectorizer))
    del vectorizer
    gc.collect()
    assert fast() is None


# The template expressions as they were written before they were split for speed:
# the split ones must answer the same on every text.
OLD_ENDING = (
    r"^(?:ofsted will take the findings|yours (?:sincerely|faithfully)|i am copying this letter|"
    r"we are copying this letter|this letter will be published|"
    r"the office for standards in education|copy:|cc:|© crown copyright)|"
    r"\b(?:website design(?:ed)? by|web design by|market research by|all rights reserved|"
    r"privacy (?:policy|notice)|cookie (?:policy|settings)|terms (?:and|&) conditions|back to top|"
    r"share this page|is this page useful)\b")
OLD_BOILERPLATE = (
    r"(?:will be specifically considered in (?:any|the) (?:future|next) inspection|"
    r"^we have notified the department for education|"
    r"^(?:if you would like a copy|you may (?:re-?use|copy) (?:this information|all or parts)|"
    r"interested in our work|this (?:report|publication) is available at)|"
    r"^from the evidence gathered,? the following|"
    r"^this letter (?:summarises|contains|sets out)|carried out under section \d+|"
    r"^(?:it|this) will contribute to (?:the |ofsted['’]s )?annual\b|^i would like to thank|"
    r"^(?:this visit|the methodology for this visit) was (?:carried out )?in line with|"
    r"^(?:her|his) majesty['’]s chief inspector of education|"
    r"\bidentified the following areas? for priority action|"
    r"^the inspection identified (?:areas of strength|one area|a number of areas|no areas))")


def test_split_template_expressions_answer_as_the_old_ones(seed_texts):
    import re

    from pipeline.sections import BOILERPLATE, ENDING

    samples = [
        "Yours sincerely", "Read our privacy policy.", "Read our prıvacy policy.", "PRİVACY NOTICE",
        "Cookie ſettings", "BAC\u212a TO TOP", "Website designed by X", "web design by",
        "This work was carried out under section 136.", "carried out under ſection 11",
        "It identified the following areas for prıorıty action", "We have notified the Department "
        "for Education", "Inspectors said we have notified the department for education",
        "this letter contains", "© Crown copyright 2020", "Share this page", "Is this page useful?",
        "The plan will be specifically considered in any future inspection.",
    ]
    texts = samples + [s.upper() for s in samples] + seed_texts
    for new, old in ((ENDING, OLD_ENDING), (BOILERPLATE, OLD_BOILERPLATE)):
        old = re.compile(old, re.I)
        assert [bool(new.search(t)) for t in texts] == [bool(old.search(t)) for t in texts]
    assert sum(bool(ENDING.search(t)) for t in samples) >= 8


def test_template_wording_is_found_where_it_stands():
    from pipeline.sections import BOILERPLATE, ENDING

    assert ENDING.search("Yours sincerely")
    assert ENDING.search("YOURS FAITHFULLY,")
    assert not ENDING.search("Children told inspectors: yours sincerely is how letters end.")
    assert ENDING.search("Read our COOKIE POLICY and the privacy notice")
    assert ENDING.search("Website designed by Example Ltd")
    assert not ENDING.search("Web designers were not consulted about the cookies.")
    assert BOILERPLATE.search("This letter summarises the findings of the visit.")
    assert not BOILERPLATE.search("Leaders said this letter summarises their plans.")
    assert BOILERPLATE.search("The visit was carried out under section 136 of the Act.")
    assert BOILERPLATE.search("Inspectors identified the following areas for priority action:")
    assert not BOILERPLATE.search("Inspectors identified the following areas for improvement.")


def test_a_full_stop_after_a_long_word_still_ends_a_sentence():
    from pipeline.sentences import sentence_spans, split_sentences

    long_word = "x" * 80
    assert split_sentences(f"It said {long_word}. Then it stopped.") == [
        f"It said {long_word}.", "Then it stopped."]
    assert len(sentence_spans(f"{'word ' * 400}for example, e.g. Sandwell and Dr. Smith.")) == 1
    assert split_sentences("Fiona J. Millns wrote. It ended.") == ["Fiona J. Millns wrote.", "It ended."]
    # a run of dots longer than the first look-back: still read whole
    assert len(sentence_spans("See para" + "." * 40 + " 12 of the plan.")) == 1
    assert len(sentence_spans("See xe.g" + "." * 30 + " Next one.")) == 2
