"""Answer generators. The default is extractive: it writes nothing of its own.

``ExtractiveGenerator``: from the best retrieved passages (at most PASSAGES), the sentence of
each that shares most words with the question, each followed by its ``[n]`` citation, in the
passages' order. When no passage is relevant enough — the best cosine similarity between the
question and a retrieved chunk is under RELEVANCE (0.30; all-MiniLM-L6-v2 puts unrelated
sentences around 0.0 to 0.1 and paraphrases above 0.6) — it answers NOTHING_FOUND instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from chat.embedding import get_embedder

NOTHING_FOUND = "I found nothing relevant in your documents."
RELEVANCE = 0.30
PASSAGES = 3
_SENTENCES = re.compile(r"(?<=[.!?])\s+")
_WORDS = re.compile(r"[a-z0-9]+")


@dataclass
class Passage:
    n: int
    text: str
    similarity: float
    citation: dict


@dataclass
class Answer:
    text: str
    citations: list[dict] = field(default_factory=list)
    generator: str = "extractive"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def _words(text: str) -> set[str]:
    return {word[:6] for word in _WORDS.findall(text.lower()) if len(word) > 2}  # a crude stem


class ExtractiveGenerator:
    name = "extractive"

    def answer(self, question: str, passages: list[Passage]) -> Answer:
        relevant = [p for p in passages if p.similarity >= RELEVANCE][:PASSAGES]
        if not relevant:
            return Answer(NOTHING_FOUND, [], self.name)
        asked = _words(question)
        sentences = []
        for passage in relevant:
            candidates = [s.strip() for s in _SENTENCES.split(passage.text) if s.strip()]
            best = max(candidates, key=lambda s: (len(asked & _words(s)), -candidates.index(s)))
            sentences.append(f"{best} [{passage.n}]")
        return Answer(" ".join(sentences), [p.citation for p in relevant], self.name)


def similarities(question: str, texts: list[str]) -> np.ndarray:
    """Cosine similarity of the question to each text (the relevance gate)."""
    embedder = get_embedder()
    vectors = embedder.embed([question, *texts])
    return vectors[1:] @ vectors[0]
