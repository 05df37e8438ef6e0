"""The one tokenizer wrapper: WordPiece via `tokenizers` (Rust), truncated like sentence-transformers.

Both the indexing path (late pooling needs token offsets) and the ONNX query path use it, so a
text is cut and padded the same way whichever path embeds it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


class Tokens:
    """A model folder's tokenizer.json with no fixed padding and truncation at `max_length`."""

    def __init__(self, tokenizer_file: Path, max_length: int) -> None:
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        # the shipped tokenizer.json pads to 128 and truncates at 128; sentence-transformers
        # truncates at max_seq_length (256) and pads only to the longest text of a batch
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length)

    def encode(self, texts: Sequence[str]) -> list[Any]:
        """One `tokenizers.Encoding` per text (ids, type ids and character offsets)."""
        if len(texts) == 1:
            return [self.tokenizer.encode(texts[0])]
        return list(self.tokenizer.encode_batch(list(texts)))

    @staticmethod
    def pad(encodings: Sequence[Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input_ids, attention_mask, token_type_ids), int64, zero-padded to the longest."""
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            n = len(encoding.ids)
            ids[row, :n] = encoding.ids
            mask[row, :n] = 1
            types[row, :n] = encoding.type_ids
        return ids, mask, types

    def batch(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(input_ids, attention_mask) of `texts`, zero-padded to the longest."""
        ids, mask, _ = self.pad(self.encode(texts))
        return ids, mask
