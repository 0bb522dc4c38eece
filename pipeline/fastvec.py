"""The fitted TF-IDF vectorizers' ``transform``, with the counting vectorised.

scikit-learn counts n-grams in a Python loop, one n-gram at a time, and checks
its input on every call: for the two models that was over half the time of
tagging a letter. Here a fitted ``TfidfVectorizer`` is compiled once per loaded
model. Word n-grams: each word of a letter is looked up once, and n-grams become
integer keys found in the sorted keys of the vocabulary with numpy. ``char_wb``
n-grams: a text's are its words' (each word padded with a space), so each
distinct word's n-grams are found once and a letter's counts are one sparse
product (texts x words) @ (words x n-grams). The count matrix is the one
scikit-learn builds, entry for entry, and the weighting runs scikit-learn's own
operations in its order, so the features are the same to the last bit
(tests/test_fastvec.py). Saved models are not changed.

Any other vectorizer goes through scikit-learn as before.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Sequence

import numpy as np
from scipy import sparse

_MAX_WORD_N = 3               # n-grams of up to three words, as integer keys
_MAX_CACHED_WORDS = 200_000   # distinct words whose n-grams are kept (a few MB)


class CompiledTfidf:
    """``transform`` of one fitted TfidfVectorizer, vectorised."""

    def __init__(self, tfidf):
        # a weak reference: the compiled form is kept in a WeakKeyDictionary keyed by
        # the vectorizer, and a strong one would keep both alive for ever
        self._tfidf = weakref.ref(tfidf)
        self.kind = _kind(tfidf)
        self.n_features = len(tfidf.vocabulary_) if self.kind else 0
        if self.kind == "words":
            self._compile_words()
        elif self.kind == "char_wb":
            self._compile_chars()

    @property
    def tfidf(self):
        return self._tfidf()

    # ---------------------------------------------------------------- compile

    def _compile_words(self) -> None:
        index: dict[str, int] = {}
        terms = sorted(self.tfidf.vocabulary_.items())
        for term, _ in terms:
            for word in term.split(" "):
                index.setdefault(word, len(index) + 1)   # 0: a word of no term
        self.word_index = index
        self.base = len(index) + 1
        if self.base ** self.tfidf.ngram_range[1] >= 2**63:
            self.kind = None  # keys of n word ids would not fit in 64 bits: scikit-learn counts
            return
        keys = np.empty(len(terms), dtype=np.int64)
        cols = np.empty(len(terms), dtype=np.int64)
        for i, (term, col) in enumerate(terms):
            key = 0
            for word in term.split(" "):
                key = key * self.base + index[word]
            keys[i], cols[i] = key, col
        order = np.argsort(keys, kind="stable")
        self.keys, self.cols = keys[order], cols[order]

    def _compile_chars(self) -> None:
        self._grams: dict[str, tuple[int, ...]] = {}

    # ---------------------------------------------------------------- transform

    def transform(self, texts: Sequence[str], cache: "TokenCache | None" = None):
        if self.kind is None:
            return self.tfidf.transform(texts)
        return _weigh(self.tfidf._tfidf, self.counts(texts, cache))

    def counts(self, texts: Sequence[str], cache: "TokenCache | None" = None) -> sparse.csr_matrix:
        """The count matrix scikit-learn's CountVectorizer gives ``texts``."""
        texts = list(texts)
        cache = cache or TokenCache()
        if self.kind == "char_wb":
            return self._char_counts(texts, cache)
        rows: list[np.ndarray] = []
        cols: list[np.ndarray] = []
        self._word_counts(texts, rows, cols, cache)
        row = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        col = np.concatenate(cols) if cols else np.empty(0, dtype=np.int64)
        matrix = sparse.csr_matrix((np.ones(len(row), dtype=self.tfidf.dtype), (row, col)),
                                   shape=(len(texts), self.n_features), dtype=self.tfidf.dtype)
        matrix.sum_duplicates()       # sums repeated n-grams and sorts each row's columns
        return matrix

    def _lookup(self, keys: np.ndarray, table_keys: np.ndarray, table_cols: np.ndarray):
        """(positions in ``keys`` found in the table, their columns)."""
        if not len(table_keys) or not len(keys):
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
        at = np.searchsorted(table_keys, keys)
        at[at == len(table_keys)] = 0
        found = np.flatnonzero(table_keys[at] == keys)
        return found, table_cols[at[found]]

    def _word_counts(self, texts: list[str], rows: list, cols: list, cache: "TokenCache") -> None:
        words = cache.words(self.tfidf.tokenizer)
        sequences = [words.ids(text) for text in texts]
        lengths = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        local = np.fromiter(itertools.chain.from_iterable(sequences), dtype=np.int64,
                            count=int(lengths.sum()))
        ids = words.known(self)[local]
        doc = np.repeat(np.arange(len(texts), dtype=np.int64), lengths)
        low, high = self.tfidf.ngram_range
        for n in range(low, high + 1):
            if len(ids) < n:
                break
            span = len(ids) - n + 1
            key = ids[:span].copy()
            valid = (ids[:span] > 0) & (doc[:span] == doc[n - 1:n - 1 + span])
            for k in range(1, n):
                key = key * self.base + ids[k:k + span]
                valid &= ids[k:k + span] > 0
            where = np.flatnonzero(valid)
            found, col = self._lookup(key[where], self.keys, self.cols)
            rows.append(doc[where[found]])
            cols.append(col)

    def _char_counts(self, texts: list[str], cache: "TokenCache") -> sparse.csr_matrix:
        """Counts as (texts x words) @ (words x n-grams): a text's character n-grams are
        its words' (each padded with a space), and a word's are found once per run."""
        grams, grams_of = self._grams, self._word_grams
        words = cache.words(_lower_words)
        sequences = [words.ids(text) for text in texts]
        indptr = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences)),
                  out=indptr[1:])
        occurrences = list(itertools.chain.from_iterable(sequences))
        # (a word none of whose n-grams is in the vocabulary has (), found once too)
        per_word = [found if (found := grams.get(w)) is not None else grams_of(w) for w in words.order]
        lengths = np.fromiter((len(g) for g in per_word), dtype=np.int64, count=len(per_word))
        word_indptr = np.zeros(len(per_word) + 1, dtype=np.int64)
        np.cumsum(lengths, out=word_indptr[1:])
        columns = np.fromiter(itertools.chain.from_iterable(per_word), dtype=np.int32,
                              count=int(word_indptr[-1]))
        dtype = self.tfidf.dtype
        word_grams = sparse.csr_matrix((np.ones(len(columns), dtype=dtype), columns, word_indptr),
                                       shape=(len(per_word), self.n_features))
        texts_words = sparse.csr_matrix(
            (np.ones(len(occurrences), dtype=dtype), np.array(occurrences, dtype=np.int32), indptr),
            shape=(len(texts), len(per_word)))
        counts = (texts_words @ word_grams).tocsr()
        counts.sort_indices()
        return counts

    def _word_grams(self, word: str) -> tuple[int, ...]:
        """The vocabulary columns of a (lower-case) word's padded n-grams, repeats kept."""
        vocabulary = self.tfidf.vocabulary_
        found = tuple(vocabulary[g] for g in self.tfidf._char_wb_ngrams(word) if g in vocabulary)
        if len(self._grams) >= _MAX_CACHED_WORDS:
            self._grams.clear()
        self._grams[word] = found
        return found


def _lower_words(text: str) -> list[str]:
    """The words ``char_wb`` pads: scikit-learn lower-cases, then splits on white space
    (its clean-up of runs of white space does not change what ``split`` gives)."""
    return text.lower().split()


def _kind(tfidf) -> str | None:
    """Which compiled analyzer reproduces this vectorizer (None: none does)."""
    from .model import _lemmas, _words

    if not hasattr(tfidf, "vocabulary_") or getattr(tfidf, "empty_", False):
        return None
    if (tfidf.input != "content" or tfidf.binary or tfidf.stop_words is not None
            or tfidf.preprocessor is not None or tfidf.strip_accents is not None
            or not isinstance(tfidf.vocabulary_, dict) or not tfidf.vocabulary_):
        return None
    low, high = tfidf.ngram_range
    if tfidf.analyzer == "word" and tfidf.tokenizer in (_words, _lemmas) and not tfidf.lowercase \
            and 1 <= low <= high <= _MAX_WORD_N:
        return "words"
    if tfidf.analyzer == "char_wb" and tfidf.tokenizer is None and tfidf.lowercase:
        return "char_wb"
    return None


class Words:
    """Texts' words as ids of a run's own lexicon, each text read once: a finding's
    words are read for the theme model, as the next finding's previous sentence, and
    for the judgement model."""

    def __init__(self, tokenize):
        self.tokenize = tokenize
        self.lexicon: dict[str, int] = {}
        self.order: list[str] = []
        self._texts: dict[str, list[int]] = {}
        self._known: dict[int, np.ndarray] = {}

    def ids(self, text: str) -> list[int]:
        found = self._texts.get(text)
        if found is None:
            lexicon = self.lexicon
            words = self.tokenize(text)
            try:
                found = list(map(lexicon.__getitem__, words))
            except KeyError:  # words not met before in this run
                for word in words:
                    if word not in lexicon:
                        lexicon[word] = len(self.order)
                        self.order.append(word)
                found = list(map(lexicon.__getitem__, words))
            self._texts[text] = found
        return found

    def known(self, vectorizer: CompiledTfidf) -> np.ndarray:
        """For each word of the lexicon, its id in the vectorizer's words (0: none)."""
        known = self._known.get(id(vectorizer))
        if known is None or len(known) < len(self.order):
            have = 0 if known is None else len(known)
            get = vectorizer.word_index.get
            more = np.fromiter((get(w, 0) for w in self.order[have:]), dtype=np.int64,
                               count=len(self.order) - have)
            known = more if known is None else np.concatenate([known, more])
            self._known[id(vectorizer)] = known
        return known


class TokenCache:
    """The Words of each tokenizer, for the texts of one call (one letter)."""

    def __init__(self):
        self._words: dict[object, Words] = {}

    def words(self, tokenize) -> Words:
        found = self._words.get(tokenize)
        if found is None:
            found = self._words[tokenize] = Words(tokenize)
        return found


def _weigh(transformer, counts: sparse.csr_matrix):
    """``transformer.transform(counts, copy=False)`` (a fitted TfidfTransformer) without
    its input checks, which cost a millisecond a call: the same operations on the
    same arrays in the same order, so the same numbers to the last bit."""
    from sklearn.utils.sparsefuncs_fast import (inplace_csr_row_normalize_l1,
                                                inplace_csr_row_normalize_l2)

    normalise = {"l2": inplace_csr_row_normalize_l2, "l1": inplace_csr_row_normalize_l1,
                 None: None}
    if transformer.norm not in normalise or counts.dtype != np.float64:
        return transformer.transform(counts, copy=False)
    if transformer.sublinear_tf:
        np.log(counts.data, counts.data)
        counts.data += 1.0
    if hasattr(transformer, "idf_"):
        counts.data *= transformer.idf_[counts.indices]
    if normalise[transformer.norm] is not None:
        normalise[transformer.norm](counts)
    return counts


_COMPILED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def compiled(tfidf) -> CompiledTfidf:
    """The compiled form of a fitted vectorizer, made once per loaded model."""
    found = _COMPILED.get(tfidf)
    if found is None:
        found = _COMPILED[tfidf] = CompiledTfidf(tfidf)
    return found


def transform_union(union, records: Sequence[dict], cache: TokenCache | None = None):
    """``union.transform(records)`` for the models' FeatureUnions, with each
    Field -> TF-IDF (-> Scale) block vectorised; other blocks as scikit-learn does."""
    from .model import Field, Scale, transform_distinct

    if union.transformer_weights is not None:
        return union.transform(records)
    cache = cache or TokenCache()
    blocks = []
    for _, step in union.transformer_list:
        steps = list(getattr(step, "named_steps", {}).values())
        if (len(steps) in (2, 3) and isinstance(steps[0], Field) and hasattr(steps[1], "vocabulary_")
                and (len(steps) == 2 or isinstance(steps[2], Scale))):
            texts = steps[0].transform(records)
            if getattr(steps[1], "empty_", False):
                block = steps[1].transform(texts)
            else:
                vectorizer = compiled(steps[1])
                block = transform_distinct(lambda t: vectorizer.transform(t, cache), texts)
            if len(steps) == 3:
                block = steps[2].transform(block)
        else:
            block = step.transform(records)
        blocks.append(block)
    return sparse.hstack(blocks).tocsr()



