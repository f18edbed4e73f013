"""Rewrite trees written by uproot into the layout of a release's real files, with ROOT.

    .venv-root/bin/python tools/real_layout.py [--release 2020] IN.root OUT.root [IN2 OUT2 ...]

The demo files are written by uproot: collections as counted arrays (``float[lep_n]``) with
``Int_t`` counters.  The real files were written by ROOT: ``std::vector<T>`` branches,
counters of the release's type (``UInt_t`` in 2020), the release's branch order (its
description, ``src/atlasod/data/releases/<release>.yaml``).  This tool reads a demo file with
ROOT's RDataFrame and writes it again in that layout (same events, same values, same order),
compressed with ZLIB level 1 by default (``--compression``, ROOT's algorithm × 100 + level).
``--entries N`` writes the first N events alone (the benchmark's slices).  With
``--rntuple`` the events are written as an RNTuple instead of a TTree (the same fields,
``std::vector<T>`` collections), as ROOT ≥ 6.34 and ATLAS's future formats write them.

It runs in its own environment with ROOT and PyYAML from PyPI (``make root-env``): it needs
nothing of the package (the release description is read as a file).  The
conversion is compiled C++ (no per-file just-in-time compilation), so many files convert in
one process quickly.  Output is written to a temporary name and renamed when complete.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

LOG = logging.getLogger("real_layout")
REPO = Path(__file__).resolve().parents[1]
CPP_TYPES = {"float32": "float", "int32": "int", "uint32": "unsigned int", "bool": "bool"}


def load_release(name: str) -> dict[str, Any]:
    """The release description ``src/atlasod/data/releases/<name>.yaml``."""
    import yaml  # the ROOT environment's PyYAML

    path = REPO / "src" / "atlasod" / "data" / "releases" / f"{name}.yaml"
    if not path.is_file():
        raise SystemExit(f"real_layout: no release {name!r} ({path} does not exist)")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def converter_source(release: dict[str, Any]) -> str:
    """C++ of ``atlasod_real_layout(in, out, compression, rntuple, entries)``, from the
    release (``entries`` > 0: only the first so many events)."""
    tree = release["tree"]
    lines = [
        "#include <ROOT/RDataFrame.hxx>",
        "#include <ROOT/RVec.hxx>",
        "#include <Compression.h>",
        "#include <string>",
        "#include <vector>",
        "template <typename T>",
        "std::vector<T> atlasod_to_vector(const ROOT::RVec<T> &v)",
        "{ return std::vector<T>(v.begin(), v.end()); }",
        "template <typename T>",
        "T atlasod_to_counter(int n) { return static_cast<T>(n); }",
        "void atlasod_real_layout(const char *in, const char *out, int compression,",
        "                         bool rntuple, long long entries) {",
        f'  ROOT::RDataFrame df("{tree}", in);',
        "  ROOT::RDF::RNode node(df);",
        "  if (entries > 0) node = node.Range(entries);",
    ]
    counter = CPP_TYPES[release["counter_dtype"]]
    for obj, fields in release["collections"].items():
        lines.append(
            f'  node = node.Redefine("{obj}_n", atlasod_to_counter<{counter}>, {{"{obj}_n"}});'
        )
        for field, dtype in fields.items():
            name, cpp = f"{obj}_{field}", CPP_TYPES[dtype]
            lines.append(
                f'  node = node.Redefine("{name}", atlasod_to_vector<{cpp}>, {{"{name}"}});'
            )
    columns = ", ".join(f'"{b}"' for b in release["file_order"])
    lines += [
        "  ROOT::RDF::RSnapshotOptions opts;",
        "  opts.fCompressionAlgorithm =",
        "      static_cast<ROOT::RCompressionSetting::EAlgorithm::EValues>(compression / 100);",
        "  opts.fCompressionLevel = compression % 100;",
        "  if (rntuple) opts.fOutputFormat = ROOT::RDF::ESnapshotOutputFormat::kRNTuple;",
        f'  node.Snapshot("{tree}", out, std::vector<std::string>{{{columns}}}, opts);',
        "}",
    ]
    return "\n".join(lines) + "\n"


def convert(
    pairs: list[tuple[Path, Path]],
    compression: int,
    rntuple: bool = False,
    release: str = "2020",
    entries: int = 0,
) -> None:
    os.environ.setdefault("ROOT_MAX_THREADS", "1")
    import ROOT  # the ROOT environment only

    ROOT.gROOT.SetBatch(True)
    if not ROOT.gInterpreter.Declare(converter_source(load_release(release))):
        raise SystemExit("real_layout: the C++ converter did not compile")
    for source, target in pairs:
        if not source.is_file():
            raise SystemExit(f"real_layout: {source} does not exist")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        try:
            ROOT.atlasod_real_layout(str(source), str(tmp), compression, rntuple, entries)
            tmp.replace(target)
        finally:
            tmp.unlink(missing_ok=True)
        LOG.info("%s -> %s", source, target)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path, help="pairs: input output")
    parser.add_argument("--compression", type=int, default=101, help="ROOT setting (101: ZLIB 1)")
    parser.add_argument("--rntuple", action="store_true", help="write an RNTuple, not a TTree")
    parser.add_argument("--release", default="2020", help="the release of the files (2020)")
    parser.add_argument("--entries", type=int, default=0, help="only the first N events (0: all)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if len(args.files) % 2:
        parser.error("give input and output files in pairs")
    pairs = list(zip(args.files[::2], args.files[1::2], strict=True))
    convert(pairs, args.compression, args.rntuple, args.release, args.entries)


if __name__ == "__main__":
    sys.exit(main())
