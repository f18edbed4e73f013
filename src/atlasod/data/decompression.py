"""Inflating the release files' zlib baskets with ISA-L: the same bytes, in less time.

The ATLAS Open Data files are compressed with zlib; inflating them is a large share of the
time to read them (``benchmarks/README.md``: zlib 404 MB/s, ISA-L 648 MB/s on the same
baskets).  uproot 5.7 can inflate with ISA-L, but its documented switch,
``uproot.ZLIB.library = "isal"``, sets the class that *compresses*: every basket is
inflated by a module-level instance of its base class (``uproot.compression._decompress_ZLIB``),
which never reads that setting.  :func:`use_isal` therefore sets the library on that
instance, the one place uproot inflates zlib with, and nothing else.  Without ISA-L
installed, or on an uproot without that instance, it leaves zlib in place and says so.

It is the adapter a later uproot makes unnecessary: when ``ZLIB.library`` reaches
decompression (the issue text is in ``benchmarks/README.md``), set that instead and remove
this module.  Inflate is lossless, so the arrays, and every histogram made from them, are
the same bytes with either library (tested).
"""

from __future__ import annotations

import importlib.util
import logging

import uproot

LOG = logging.getLogger(__name__)
ISAL = "isal"


def use_isal() -> str:
    """Make uproot inflate zlib with ISA-L where it is installed; returns the library that
    inflates from now on (``isal`` or ``zlib``).  Safe to call more than once."""
    decompressor = getattr(uproot.compression, "_decompress_ZLIB", None)
    if decompressor is None or not hasattr(decompressor, "library"):
        LOG.debug("uproot %s has no zlib decompressor to adapt: zlib", uproot.__version__)
        return "zlib"
    if decompressor.library == ISAL:
        return ISAL
    if importlib.util.find_spec("isal") is None:
        return str(decompressor.library)
    decompressor.library = ISAL  # the instance's attribute: the class's default stays zlib
    return ISAL
