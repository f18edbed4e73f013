"""Decoding the release files' ``std::vector<number>`` baskets in one gather: the same arrays
as uproot's, in less time.

A basket of a ``std::vector<T>`` branch holds, entry after entry, a 10-byte header (byte
count, version, length) and the entry's numbers, big-endian.  uproot 5.7's ``AsJagged``
removes the headers with a mask over every byte of the basket (a boolean array of the
basket's size, a scattered write per header byte, a compress of all bytes) and then views
what is left as numbers.  :class:`VectorOfNumbers` takes the numbers directly: one index per
number into a view of the basket that starts a number at every byte, one gather.  On the
real-layout tt̄ file (17 branches) the read went from 1.75 to 1.56 s with only this change
(benchmarks/README.md), nearly all of the rest being zlib's inflate.

The arrays are the same bytes as uproot's (tested on every branch type of both releases'
real layouts).  :func:`decode_vectors_fast` gives the branches of a tree that are vectors of
numbers this interpretation, on that tree's branch objects only (the interpretation uproot
caches per branch; nothing global changes); a branch of any other type, or an uproot whose
branches do not cache their interpretation there, keeps uproot's.  It is the adapter a
later uproot makes unnecessary (the issue text is in benchmarks/README.md).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from uproot.interpretation.jagged import AsJagged, JaggedArray
from uproot.interpretation.numerical import AsDtype

LOG = logging.getLogger(__name__)
HEADER = 10  # bytes before each entry's numbers: byte count (4), version (2), length (4)


class VectorOfNumbers(AsJagged):
    """``AsJagged(AsDtype(...), header_bytes=10)`` decoded with one gather per basket."""

    def basket_array(
        self,
        data: np.ndarray,
        byte_offsets: np.ndarray | None,
        basket: Any,
        branch: Any,
        context: Any,
        cursor_offset: int,
        library: Any,
        options: Any,
    ) -> Any:
        if byte_offsets is None:  # (vectors always have entry offsets; uproot's way if not)
            return super().basket_array(
                data, byte_offsets, basket, branch, context, cursor_offset, library, options
            )
        dtype = self._content.from_dtype
        size = dtype.itemsize
        bounds = byte_offsets.astype(np.int64)
        starts = bounds[:-1] + HEADER
        counts = (bounds[1:] - starts) // size
        offsets = np.zeros(len(counts) + 1, dtype=np.int32)
        np.cumsum(counts, out=offsets[1:])
        total = int(offsets[-1])
        if total == 0:
            return JaggedArray(offsets, np.zeros(0, dtype=dtype))
        # the byte at which each number starts: its entry's first number's, plus its place
        first = starts - offsets[:-1].astype(np.int64) * size
        at = np.repeat(first, counts) + np.arange(0, total * size, size, dtype=np.int64)
        every_byte = np.ndarray((len(data) - size + 1,), dtype=dtype, buffer=data, strides=(1,))
        return JaggedArray(offsets, every_byte[at])


def _is_vector_of_numbers(interpretation: Any) -> bool:
    if type(interpretation) is not AsJagged or interpretation.header_bytes != HEADER:
        return False
    content = interpretation.content
    if type(content) is not AsDtype:
        return False
    dtype = content.from_dtype
    return dtype.shape == () and dtype.kind in "biuf"


def decode_vectors_fast(tree: Any, branches: list[str]) -> int:
    """Give the ``branches`` of ``tree`` (a TTree) that are vectors of numbers the faster
    decoding; returns how many it gave it to."""
    changed = 0
    for name in branches:
        branch = tree[name]
        interpretation = branch.interpretation
        if not _is_vector_of_numbers(interpretation) or not hasattr(branch, "_interpretation"):
            continue
        branch._interpretation = VectorOfNumbers(
            interpretation.content,
            interpretation.header_bytes,
            interpretation.typename,
            interpretation.original,
        )
        changed += 1
    LOG.debug("%d of %d branches decoded as vectors of numbers", changed, len(branches))
    return changed
