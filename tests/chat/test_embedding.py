"""The default embedder is the real all-MiniLM-L6-v2 (int8 ONNX from pip packages), and behaves
like it: similar sentences close, unrelated ones far, the same vector every time."""

import numpy as np
import pytest

from chat.embedding import get_embedder

SENTENCES = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "The stock market fell sharply today.",
]
# The first components of "A man is eating food." with this model file (measured once).
REFERENCE = [0.03095187, 0.00667076, -0.00437296, 0.04750628, -0.1399194]


@pytest.fixture(scope="module")
def embedder():
    return get_embedder()


def test_vectors_are_unit_length_and_384_wide(embedder):
    vectors = embedder.embed(SENTENCES)
    assert vectors.shape == (4, 384) and embedder.dimension == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_similar_sentences_are_close_and_unrelated_far(embedder):
    v = embedder.embed(SENTENCES)
    similarity = v @ v.T
    assert similarity[0, 1] > 0.6  # eating food / eating bread
    assert similarity[0, 2] < 0.1 and similarity[0, 3] < 0.1
    assert similarity[0, 1] > similarity[0, 2] + 0.5


def test_a_fixed_sentence_has_a_stable_vector(embedder):
    first = embedder.embed([SENTENCES[0]])[0]
    assert np.allclose(first[:5], REFERENCE, atol=1e-5)
    # Alone or in a padded batch with longer texts: the same vector.
    batched = embedder.embed([SENTENCES[0], "word " * 200, SENTENCES[2]])[0]
    assert np.allclose(first, batched, atol=1e-5)


def test_an_empty_list_embeds_to_nothing(embedder):
    assert embedder.embed([]).shape == (0, 384)
