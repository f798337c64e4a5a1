"""Knowledge-base retrieval: BM25 over words, Chinese bigrams and shop-domain concepts, in pure Python.

A question and each article are turned into the same kind of terms:
- English words, lower-cased and Snowball-stemmed ("shipped" -> "ship"), minus stopwords;
- for Chinese (no spaces), character bigrams ("退货政策" -> "退货", "货政", "政策");
- concept tokens ("#ship", "#refund") from the hand-written map in kb_synonyms, so a paraphrase
  ("when will my stuff arrive") meets an article that never uses its words ("Shipping times").
Misspelt question words are corrected to the nearest known word first. Titles count several times, since a title
says what an article is about better than any sentence of its body.

The score is BM25 divided by what the same question would score against an ideal article (every term in the
title), so it reads as "how much of the question this article covers", 0..1, comparable across questions. Each
term's share is capped at that ideal, and the divisor has a floor so a question of only common words stays unsure.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

from chat.ai.base import Passage
from chat.ai.kb_synonyms import CJK_STOP_CHARS, CONCEPTS, GENERIC_CONCEPTS, OTHER_TOPICS, STOPWORDS

# Below this score nothing matches well enough to answer from; the caller hands over to a human.
THRESHOLD = 0.22

K1 = 1.2
B = 0.75
TITLE_BOOST = 3
# Query terms no article contains still count against coverage, but a little: they are often filler.
UNKNOWN_WORD_WEIGHT = 0.5
UNKNOWN_BIGRAM_WEIGHT = 0.1
# A question made only of common terms ("what time is it") says too little to be sure of: the denominator of
# the score never drops below this fraction of an unseen term's idf.
MIN_INFORMATION = 0.75
# A typo correction is a guess ("bread" is a word, not a typo for "break"), so what it adds counts for less.
CORRECTED_WEIGHT = 0.5
# An article in the other language is a fallback, not an equal: a Chinese question prefers a Chinese article.
OTHER_LANGUAGE_FACTOR = 0.9
MAX_CACHED_SITES = 256
# A shop topic the question names ("discount code") that no article covers says the question is about something
# else: it weighs as much as the rarest known term, not as filler.
UNKNOWN_TOPIC_WEIGHT = 1.0
# Evidence that is only generic ("hour", "order", "account"), or a single plain word, is weak: an answer resting
# on it is more often wrong than right, so it counts for this share of its score.
WEAK_EVIDENCE_FACTOR = 0.5
# An article that leaves a topic of the question uncovered ("the email address on my account") answers another
# question, however well the rest matches.
UNCOVERED_TOPIC_FACTOR = 0.3

_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RE = re.compile(f"[{_CJK}]")
_TOKEN_RE = re.compile(f"[a-z0-9]+|[{_CJK}]+")
_CONCEPT_PREFIX = "#"


def contains_cjk(text: str) -> bool:
    """True when the text has Chinese (CJK) characters."""
    return bool(_CJK_RE.search(text))


# --- Analysis -----------------------------------------------------------------------------------------------


# Words Snowball folds into another word's stem ("customer" and "customs" both become "custom").
_STEM_EXCEPTIONS = {"customer": "customer", "customers": "customer"}
_STEMMER = snowballstemmer.stemmer("english")
# A Snowball stemmer keeps the word it works on in the instance: threads take turns with the one instance.
_STEMMER_LOCK = threading.Lock()
# A shop's words are a few thousand; remembered, each is stemmed once per process, not once per question.
STEM_CACHE_SIZE = 65536


@lru_cache(maxsize=STEM_CACHE_SIZE)
def stem(word: str) -> str:
    """Reduce an English word to its Snowball stem so inflections meet ("arrives", "arrived" -> "arriv")."""
    if word in _STEM_EXCEPTIONS:
        return _STEM_EXCEPTIONS[word]
    with _STEMMER_LOCK:
        return _STEMMER.stemWord(word)


def _normalize(text: str) -> str:
    # NFKC folds full-width letters and digits ("ＰａｙＰａｌ"), common in Chinese input methods.
    return unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")


def _stems(text: str) -> list[str]:
    return [stem(token) for token in _TOKEN_RE.findall(_normalize(text)) if not contains_cjk(token)]


@dataclass(frozen=True)
class _ConceptTable:
    """The concept map compiled for lookup: single stems, multi-word stem phrases, Chinese substrings."""

    words: dict[str, tuple[str, ...]]
    phrases: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]]
    cjk: tuple[tuple[str, str], ...]
    known_stems: frozenset[str]


def _compile_concepts(concepts: dict[str, tuple[str, ...]]) -> _ConceptTable:
    words: dict[str, list[str]] = {}
    phrases: dict[tuple[str, ...], list[str]] = {}
    cjk: list[tuple[str, str]] = []
    for concept, keys in concepts.items():
        token = _CONCEPT_PREFIX + concept
        for key in keys:
            if contains_cjk(key):
                cjk.append((key, token))
                continue
            stems = tuple(_stems(key))
            target = words.setdefault(stems[0], []) if len(stems) == 1 else phrases.setdefault(stems, [])
            if token not in target:
                target.append(token)
    by_first: dict[str, list[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for stems, tokens in phrases.items():
        by_first.setdefault(stems[0], []).append((stems, tuple(tokens)))
    for candidates in by_first.values():
        candidates.sort(key=lambda item: -len(item[0]))  # longest phrase wins
    known = {s for s in words} | {s for stems in phrases for s in stems}
    return _ConceptTable(
        words={k: tuple(v) for k, v in words.items()}, phrases=by_first, cjk=tuple(cjk), known_stems=frozenset(known)
    )


_STOP_STEMS = frozenset(stem(word) for word in STOPWORDS)
_TABLE = _compile_concepts({**CONCEPTS, **OTHER_TOPICS})
_GENERIC = frozenset(_CONCEPT_PREFIX + name for name in GENERIC_CONCEPTS).union(
    # The Chinese bigrams of a generic concept's words ("时间", "下单") are as generic as the concept.
    key[i : i + 2]
    for name in GENERIC_CONCEPTS
    for key in CONCEPTS[name]
    if contains_cjk(key)
    for i in range(len(key) - 1)
)
_TOPICS = frozenset(_CONCEPT_PREFIX + name for name in OTHER_TOPICS)
# A phrase may skip this many stopwords between its words: "send it back", "close my account".
_MAX_PHRASE_GAP = 2


def _match_phrase(words: list[str], start: int) -> tuple[int, tuple[str, ...]] | None:
    """Return (end index, concept tokens) of the longest concept phrase starting at `start`, if any."""
    for stems, tokens in _TABLE.phrases.get(words[start], ()):
        position, matched, gaps = start + 1, 1, 0
        while matched < len(stems) and position < len(words):
            if words[position] == stems[matched]:
                matched += 1
            elif words[position] in _STOP_STEMS and gaps < _MAX_PHRASE_GAP:
                gaps += 1
            else:
                break
            position += 1
        if matched == len(stems):
            return position, tokens
    return None


def _word_terms(words: list[str]) -> list[str]:
    """Concept tokens and content words of a run of English stems."""
    terms: list[str] = []
    index = 0
    while index < len(words):
        phrase = _match_phrase(words, index)
        if phrase:
            # The phrase's own words ("send", "back") would mislead on their own, so only the concept stays.
            index, tokens = phrase
            terms.extend(tokens)
            continue
        word = words[index]
        # A concept word stands for its concept only: keeping the literal too would let one word of a broad
        # concept ("charge" in "free of charge") outweigh the concept itself.
        if word in _TABLE.words:
            terms.extend(_TABLE.words[word])
        elif word not in _STOP_STEMS and len(word) > 1:
            terms.append(word)
        index += 1
    return terms


def _cjk_terms(run: str) -> list[str]:
    """Concept tokens and character bigrams of a run of Chinese characters."""
    terms = [token for key, token in _TABLE.cjk for _ in range(run.count(key))]
    if len(run) == 1:
        return terms + ([] if run in CJK_STOP_CHARS else [run])
    for first, second in zip(run, run[1:]):
        if first not in CJK_STOP_CHARS and second not in CJK_STOP_CHARS:
            terms.append(first + second)
    return terms


def analyze(text: str, correct: Callable[[str], str] | None = None) -> list[str]:
    """Turn text into index terms: stemmed words, Chinese bigrams and concept tokens (optionally fixing typos)."""
    terms: list[str] = []
    words: list[str] = []
    for token in _TOKEN_RE.findall(_normalize(text)):
        if contains_cjk(token):
            terms.extend(_cjk_terms(token))
        else:
            words.append(stem(token))
    if correct:
        words = [correct(word) for word in words]
    terms.extend(_word_terms(words))
    return terms


# --- Typos --------------------------------------------------------------------------------------------------


def _edit_distance(a: str, b: str, limit: int, substitution: int = 1) -> int:
    """Damerau-Levenshtein distance (adjacent swaps count once), giving up early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before, previous = None, list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i] + [0] * len(b)
        for j, char_b in enumerate(b, 1):
            cost = substitution if char_a != char_b else 0
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if before is not None and i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def _make_corrector(vocabulary: frozenset[str]) -> Callable[[str], str]:
    """A function mapping an unknown stem to the closest known one (same first letter, 1-2 edits), else itself."""
    by_initial: dict[str, list[str]] = {}
    for word in sorted(vocabulary):
        by_initial.setdefault(word[0], []).append(word)

    @lru_cache(maxsize=2048)
    def correct(word: str) -> str:
        # Short words and numbers have too many near neighbours to guess safely.
        if word in vocabulary or word in _STOP_STEMS or len(word) < 4 or word.isdigit():
            return word
        limit = 1 if len(word) <= 6 else 2
        # In a short word one changed letter usually makes another real word ("bread", "break"), so short words
        # are only corrected for a missing, extra or swapped letter.
        substitution = 1 if len(word) > 5 else 2
        best, best_key = word, (limit + 1, 0)
        for candidate in by_initial.get(word[0], ()):
            # Ties go to the candidate of the same length: "lnog" is "long" swapped, not "log" plus a letter.
            key = (_edit_distance(word, candidate, limit, substitution), abs(len(candidate) - len(word)))
            if key < best_key:
                best, best_key = candidate, key
        return best

    return correct


# --- Index and scoring --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Article:
    article_id: int
    title: str
    body: str
    chinese: bool


@dataclass
class _Index:
    """BM25 statistics for one site's published articles."""

    articles: list[_Article]
    frequencies: list[Counter[str]]
    lengths: list[int]
    document_frequency: Counter[str]
    average_length: float
    correct: Callable[[str], str] = field(repr=False)

    def idf(self, term: str) -> float:
        """BM25's inverse document frequency (always positive)."""
        total, df = len(self.articles), self.document_frequency[term]
        return math.log(1 + (total - df + 0.5) / (df + 0.5))


def _article_terms(title: str, body: str) -> Counter[str]:
    terms = Counter(analyze(body))
    for term in analyze(title):
        terms[term] += TITLE_BOOST
    return terms


def build_index(articles: Iterable[tuple[int, str, str, str]]) -> _Index:
    """Index (id, title, body, language) rows; exposed for tests and tools that have no database."""
    records: list[_Article] = []
    frequencies: list[Counter[str]] = []
    for article_id, title, body, language in articles:
        chinese = language.lower().startswith("zh") or contains_cjk(title + body)
        records.append(_Article(article_id, title, body, chinese))
        frequencies.append(_article_terms(title, body))
    document_frequency: Counter[str] = Counter()
    for terms in frequencies:
        document_frequency.update(terms.keys())
    lengths = [sum(terms.values()) for terms in frequencies]
    vocabulary = {term for term in document_frequency if term.isascii() and not term.startswith(_CONCEPT_PREFIX)}
    return _Index(
        articles=records,
        frequencies=frequencies,
        lengths=lengths,
        document_frequency=document_frequency,
        average_length=(sum(lengths) / len(lengths)) if lengths else 1.0,
        correct=_make_corrector(frozenset(vocabulary | _TABLE.known_stems)),
    )


def _saturation(tf: float, length: int, average_length: float) -> float:
    return tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / average_length))


# What a term contributes when it sits in the title of an average-length article: the "ideal" match.
_IDEAL_SATURATION = TITLE_BOOST * (K1 + 1) / (TITLE_BOOST + K1)


def _query_weights(index: _Index, query: str) -> dict[str, float]:
    """Weight of each query term: its idf (damped for repeats), reduced for terms no article contains."""
    counts = Counter(analyze(query, correct=index.correct))
    guessed = counts - Counter(analyze(query))
    unknown_idf = index.idf("")  # an unseen term's idf: the highest there is
    weights: dict[str, float] = {}
    for term, count in counts.items():
        repeat = 1 + 0.5 * (min(count, 3) - 1)
        if index.document_frequency[term]:
            weights[term] = index.idf(term) * repeat
        elif term in _TOPICS:
            weights[term] = unknown_idf * UNKNOWN_TOPIC_WEIGHT
        elif contains_cjk(term):
            weights[term] = unknown_idf * UNKNOWN_BIGRAM_WEIGHT
        else:
            weights[term] = unknown_idf * UNKNOWN_WORD_WEIGHT
        if term in guessed:
            weights[term] *= CORRECTED_WEIGHT
    return weights


def score_all(index: _Index, query: str) -> list[tuple[float, _Article]]:
    """Every article's 0..1 relevance to the query, best first (zero scores left out)."""
    weights = _query_weights(index, query)
    ideal = max(sum(weights.values()), MIN_INFORMATION * index.idf("")) * _IDEAL_SATURATION
    if not ideal:
        return []
    chinese_query = contains_cjk(query)
    topics = _TOPICS.intersection(weights)
    scored: list[tuple[float, _Article]] = []
    for article, terms, length in zip(index.articles, index.frequencies, index.lengths):
        matched = [term for term in weights if terms[term]]
        # Capped at the ideal so one concept repeated all over a body cannot stand in for the rest of the question.
        raw = sum(
            weights[term] * min(_saturation(terms[term], length, index.average_length), _IDEAL_SATURATION)
            for term in matched
        )
        if not raw:
            continue
        score = min(raw / ideal, 1.0)
        specific = [term for term in matched if term not in _GENERIC]
        if any(not terms[topic] for topic in topics):
            score *= UNCOVERED_TOPIC_FACTOR
        elif not specific or (len(specific) == 1 and specific[0].isascii() and not specific[0].startswith("#")):
            # Only generic terms, or one plain word ("open", "email") that no concept vouches for.
            score *= WEAK_EVIDENCE_FACTOR
        if article.chinese != chinese_query:
            score *= OTHER_LANGUAGE_FACTOR
        scored.append((score, article))
    scored.sort(key=lambda pair: -pair[0])  # stable: ties keep the title order
    return scored


# --- Per-site cache and the public entry point --------------------------------------------------------------

_cache: dict[int, tuple[int, _Index | None]] = {}


def _site_index(site_id: int, version: int | None) -> _Index | None:
    """The site's index at its knowledge-base version, rebuilt only when that changed (None: no articles)."""
    # Imported here so kb.py can import THRESHOLD before Django's app registry is ready.
    from chat.models import KnowledgeArticle, Site

    if version is None:
        version = Site.objects.filter(pk=site_id).values_list("kb_version", flat=True).first()
    cached = _cache.get(site_id)
    if cached and cached[0] == version:
        return cached[1]
    articles = KnowledgeArticle.objects.filter(site_id=site_id, published=True).order_by("title")
    rows = list(articles.values_list("id", "title", "body", "language"))
    index = build_index(rows) if rows else None
    if site_id not in _cache and len(_cache) >= MAX_CACHED_SITES:
        _cache.pop(next(iter(_cache)))  # oldest entry first: dicts keep insertion order
    _cache[site_id] = (version, index)
    return index


def retrieve(*, site_id: int, query: str, limit: int = 3, version: int | None = None) -> list[Passage]:
    """The site's published articles most relevant to the query, best first, each scored 0..1.

    `version` is the site's `kb_version` when the caller read it already (no query then while it is cached).
    """
    if not query.strip() or limit <= 0:
        return []
    index = _site_index(site_id, version)
    return search(index, query, limit=limit) if index else []


def _passages(scored: list[tuple[float, _Article]]) -> list[Passage]:
    return [
        Passage(
            article_id=article.article_id,
            title=article.title,
            body=article.body,
            score=round(score, 4),
            language="zh-hans" if article.chinese else "en",
        )
        for score, article in scored
    ]


# Openings that make a message lean on the one before ("and to the UK?", "what about express?", "那退款呢"), and
# words that point back at it ("how long would that take?").
_FOLLOW_UP = re.compile(
    r"^(and|also|what about|how about|and what about|same for|or|plus)\b|^(那|还有|那么|另外)|呢[?？]?$"
    r"|\b(that|it|this|those|them)\b|这个|那个"
)
# A follow-up is short: a long message is a question of its own.
FOLLOW_UP_MAX_TERMS = 4


def looks_like_follow_up(question: str) -> bool:
    """True when a message reads as a continuation of the previous question ("and to the UK?")."""
    text = _normalize(question).strip()
    return bool(_FOLLOW_UP.search(text)) and len(analyze(text)) <= FOLLOW_UP_MAX_TERMS


def search(index: _Index, query: str, *, previous: str = "", limit: int = 3) -> list[Passage]:
    """The articles of an index most relevant to a message, best first; a follow-up is read with `previous`.

    The previous question only helps: the combined reading is taken when the message leans on it ("and to the
    UK?"), or when it matches where the short message alone does not, and only if its best article contains a
    term of the message itself.
    """
    alone = score_all(index, query)
    if not previous.strip():
        return _passages(alone[:limit])
    weak = not alone or alone[0][0] < THRESHOLD
    if not (looks_like_follow_up(query) or (weak and len(analyze(query)) <= FOLLOW_UP_MAX_TERMS)):
        return _passages(alone[:limit])
    combined = score_all(index, f"{previous} {query}")
    if combined:
        best = index.articles.index(combined[0][1])
        if set(analyze(query, correct=index.correct)).intersection(index.frequencies[best]):
            if weak or combined[0][0] >= alone[0][0]:
                return _passages(combined[:limit])
    return _passages(alone[:limit])


def retrieve_in_context(
    *, site_id: int, query: str, previous: str = "", limit: int = 3, version: int | None = None
) -> list[Passage]:
    """The site's published articles most relevant to a message, reading a follow-up with the previous question."""
    if not query.strip() or limit <= 0:
        return []
    index = _site_index(site_id, version)
    return search(index, query, previous=previous, limit=limit) if index else []
