"""Regenerate a release's catalogue, ``src/atlasod/data/catalogues/<release>.yaml``, from
the shared physics reference of that release.

2020 (``../shared/reference/atlas-opendata-2020.md``): Appendix A lists every file the six
analyses read (size, adler32, portal directory); sections 6-11 list the normalisation table
of each analysis (cross section and sum of weights as used by the original C++ framework).
This script joins the two into one machine-readable catalogue.

2025e (``../shared/reference/atlas-opendata-2025e.md``): Appendix B lists the files the
official 2025 analyses read, per skim, with size, adler32 and portal directory.  The MC
normalisation of this release is in every file's own branches (xsec, kfac, filteff,
sum_of_weights), so the catalogue holds no tables; the one sample whose metadata the
reference gives (DSID 345060, §5.3) is kept for the demo files.

2020 with the C++ framework's other six analyses
(``../shared/reference/atlas-opendata-2020-more-analyses.md``, given with ``--more``): its
§9.4 lists the files they read beyond the first six's (the 3lep and 1lep1tau skims and more
2lep files), with size and adler32; they are added to the 2020 catalogue.

2025e with atlasopenmagic (the official metadata package, ``pip install 'atlasod[catalogue]'``):
the sample metadata of every MC file the catalogue lists (short name, cross section, k-factor,
filter efficiency, Σw), and a check that atlasopenmagic's file lists name the same files, in
the same portal folder, as the reference.  ``--online`` asks atlasopenmagic's API now (a
machine with the internet; ``--save-metadata FILE`` keeps what it got);
``--metadata FILE`` reads such a file (``atom metadata export FILE``, or ``save_metadata``)
without the network.  The run time never needs it: the files carry their own normalisation.

Run it when a reference changes::

    python tools/build_catalogue.py ../shared/reference/atlas-opendata-2020.md \
        --more ../shared/reference/atlas-opendata-2020-more-analyses.md
    python tools/build_catalogue.py --release 2025e ../shared/reference/atlas-opendata-2025e.md
    python tools/build_catalogue.py --release 2025e ../shared/reference/atlas-opendata-2025e.md \
        --online --save-metadata metadata-2025e.json
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

LOG = logging.getLogger("build_catalogue")

# section heading prefix -> name of the original normalisation table
TABLE_SECTIONS = {
    "### 6.2": "Files_WBoson",
    "### 7.2": "Files_base",
    "### 8.2": "Files_base",
    "### 9.2": "Files_HZZ",
    "### 10.1": "Files_Hyy",
}
# Every known location of a file, tried in order ({skim}, {kind} = Data|MC,
# {file}, {portal_dir} are filled per file).  These URLs have moved before.
LOCATIONS = [
    {
        "name": "atlas-opendata-web",
        "url": "https://atlas-opendata.web.cern.ch/atlas-opendata/samples/2020/{skim}/{kind}/{file}",
    },
    {
        "name": "eospublic-xrootd",
        "url": "root://eospublic.cern.ch//eos/opendata/atlas/OutreachDatasets/2020-01-22/{skim}/{kind}/{file}",
    },
    {
        "name": "cern-opendata-portal",
        "url": "https://opendata.cern.ch/eos/opendata/atlas/OutreachDatasets/2020-08-19/{portal_dir}/{file}",
    },
]
# Order in which tables provide the default normalisation of a DSID.
DEFAULT_ORDER = [
    "Files_base",
    "Files_HZZ",
    "Files_Hyy",
    "Files_WBoson",
    "Files_ZPrime",
    "Files_HWW",
    "Files_ZTauTau",
    "Files_SUSY",
    "infofile",
]
# The reference's §11.2 table (Files_ZPrime) repeats the 2lep table of §7.2 by mistake.
# Checked against the C++ framework at tag 10fb-legacy
# (Plotting/inputfiles/Files_ZPrime.txt): Files_ZPrime equals Files_WBoson line by line,
# with WpqqWmlv and llll commented out, plus the Z' signal below.
ZPRIME_FROM_WBOSON_EXCEPT = (363359, 363490)
ZPRIME_SIGNAL = {301325: {"name": "ZPrime1000_tt", "xsec_pb": 1.1261, "sumw": 199800.0}}

FILE_RE = re.compile(
    r"^(?:data_(?P<period>[A-D])|mc_(?P<dsid>\d+)\.(?P<short>[^.]+))\.(?P<skim>[^.]+)\.root$"
)


def _rows(lines: list[str], start: int) -> list[list[str]]:
    """Return the cells of the first markdown table at or after line ``start``."""
    rows: list[list[str]] = []
    i = start
    while i < len(lines) and not lines[i].startswith("|"):
        i += 1
    while i < len(lines) and lines[i].startswith("|"):
        cells = [c.strip().strip("`") for c in lines[i].strip().strip("|P").split("|")]
        if not set(cells[0]) <= {"-", " ", ""}:
            rows.append(cells)
        i += 1
    return rows[1:]  # drop header


def _num(text: str) -> float | None:
    text = text.strip()
    return float(text) if text else None


def file_record(
    fname: str, skim: str, size: int, adler: str, portal_dir: str, m: re.Match[str]
) -> dict:
    """A catalogue entry of a file: its period (data) or DSID (MC) from its name's match."""
    rec: dict = {"file": fname, "skim": skim, "size": size, "adler32": adler}
    rec["portal_dir"] = portal_dir
    if m["period"]:
        rec["period"] = m["period"]
    else:
        rec["dsid"] = int(m["dsid"])
    return rec


def more_files(reference: Path, readers: set[str]) -> list[dict]:
    """The files of §9.4 of the reference of the other six analyses read by one of
    ``readers`` (rows: `<skim>/<Data|MC>/<file>`, bytes, adler32, the analyses that read it)."""
    lines = reference.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("### 9.4"))
    files = []
    for idx in range(start, len(lines)):
        if lines[idx].startswith("## ") and idx > start:
            break
        if not lines[idx].startswith("#### 9.4."):
            continue
        for cells in _rows(lines, idx + 1):
            path, size, adler = cells[0], int(cells[1]), cells[2]
            portal_dir, _, fname = path.rpartition("/")
            m = FILE_RE.match(fname)
            if m is None:
                raise ValueError(f"unexpected file name in §9.4: {path}")
            if not readers & {r.strip() for r in cells[3].split(",")}:
                continue
            files.append(file_record(fname, m["skim"], size, adler, portal_dir, m))
    return files


# The files of §9.4 taken into the catalogue: those read by the analyses this project has
# (the names of §9.4's "read by" column: WZ the 3lep skim, HWW two more 2lep files, Ztt
# (Z → ττ) the 1lep1tau skim, SUSY the 84 Sherpa V+jets slices and the slepton signal in
# 2lep).
MORE_READERS = {"WZ", "HWW", "Ztt", "SUSY"}
# section heading prefix -> the normalisation table it lists, in the reference of the other
# six analyses (columns: group, key, file, σ, Σw, eff, L·σ/Σw, infofile where different, ...)
MORE_TABLE_SECTIONS = {"### 5.2": "Files_HWW", "### 6.2": "Files_ZTauTau", "### 7.2": "Files_SUSY"}


def more_tables(reference: Path) -> dict[int, dict]:
    """DSID -> {"name", "tables": {table: {xsec_pb, sumw}}} of the tables of
    MORE_TABLE_SECTIONS; where the "infofile.py where different" column gives a cross
    section (σ=...), an ``infofile`` table with it is added."""
    lines = reference.read_text(encoding="utf-8").splitlines()
    norm: dict[int, dict] = {}
    for idx, line in enumerate(lines):
        table = next((t for p, t in MORE_TABLE_SECTIONS.items() if line.startswith(p)), None)
        if table is None:
            continue
        for cells in _rows(lines, idx + 1):
            m = FILE_RE.match(cells[2].rpartition("/")[2])
            if m is None or m["period"]:
                continue  # the data rows
            xsec, sumw = float(cells[3]), float(cells[4])
            rec = norm.setdefault(int(m["dsid"]), {"name": m["short"], "tables": {}})
            rec["tables"][table] = {"xsec_pb": xsec, "sumw": sumw}
            if cells[7].startswith("σ="):
                rec["tables"]["infofile"] = {"xsec_pb": float(cells[7][2:]), "sumw": sumw}
    return norm


def build(reference: Path, more: Path | None = None) -> dict:
    lines = reference.read_text(encoding="utf-8").splitlines()
    norm: dict[int, dict] = {}
    entries: dict[str, int] = {}
    for idx, line in enumerate(lines):
        for prefix, table in TABLE_SECTIONS.items():
            if not line.startswith(prefix):
                continue
            for cells in _rows(lines, idx + 1):
                dsid, fname = int(cells[2]), cells[3]
                xsec, sumw, sumw_info = _num(cells[4]), _num(cells[5]), _num(cells[6])
                rec = norm.setdefault(dsid, {"name": FILE_RE.match(fname)["short"], "tables": {}})
                rec["tables"][table] = {"xsec_pb": xsec, "sumw": sumw}
                if sumw_info is not None:
                    rec["tables"].setdefault("infofile", {"xsec_pb": xsec, "sumw": sumw_info})
                if cells[8]:
                    entries[fname] = int(cells[8])
    for dsid, rec in norm.items():
        if "Files_WBoson" in rec["tables"] and dsid not in ZPRIME_FROM_WBOSON_EXCEPT:
            rec["tables"]["Files_ZPrime"] = dict(rec["tables"]["Files_WBoson"])
    for dsid, sig in ZPRIME_SIGNAL.items():
        table = {"xsec_pb": sig["xsec_pb"], "sumw": sig["sumw"]}
        norm[dsid] = {"name": sig["name"], "tables": {"Files_ZPrime": table}}
    for dsid, rec in (more_tables(more) if more is not None else {}).items():
        known = norm.setdefault(dsid, {"name": rec["name"], "tables": {}})
        for table, values in rec["tables"].items():
            known["tables"].setdefault(table, values)  # the first reference's infofile stays
    samples = {}
    for dsid, rec in sorted(norm.items()):
        tables = rec["tables"]
        default = next(tables[t] for t in DEFAULT_ORDER if t in tables)
        overrides = {
            t: v["sumw"] for t, v in sorted(tables.items()) if v["sumw"] != default["sumw"]
        }
        samples[dsid] = {
            "name": rec["name"],
            "xsec_pb": default["xsec_pb"],
            "k_factor": 1.0,
            "filter_eff": 1.0,
            "sumw": default["sumw"],
        }
        if overrides:
            samples[dsid]["sumw_by_table"] = overrides
        xsec_overrides = {
            t: v["xsec_pb"] for t, v in sorted(tables.items()) if v["xsec_pb"] != default["xsec_pb"]
        }
        if xsec_overrides:  # H→WW: the C++ framework's 0.58 pb, infofile.py's 0.148 pb
            samples[dsid]["xsec_by_table"] = xsec_overrides
        if 410011 <= dsid <= 410014 or dsid in (410025, 410026):
            samples[dsid]["weight_sign_only"] = True

    files = []
    start = next(i for i, line in enumerate(lines) if line.startswith("## Appendix A"))
    for idx in range(start, len(lines)):
        if not lines[idx].startswith("### A."):
            continue
        for cells in _rows(lines, idx + 1):
            fname, size, adler, portal = cells[0], int(cells[1]), cells[2], cells[3]
            m = FILE_RE.match(fname)
            if m is None:
                raise ValueError(f"unexpected file name in Appendix A: {fname}")
            rec = {
                "file": fname,
                "skim": m["skim"],
                "size": size,
                "adler32": adler,
                "portal_dir": portal.removeprefix("OutreachDatasets/2020-08-19/"),
            }
            if m["period"]:
                rec["period"] = m["period"]
            else:
                rec["dsid"] = int(m["dsid"])
                if rec["dsid"] not in samples:
                    LOG.warning("no normalisation for %s in the reference", fname)
            if fname in entries:
                rec["entries"] = entries[fname]
            files.append(rec)
    if more is not None:
        known = {f["file"] for f in files}
        for rec in more_files(more, MORE_READERS):
            if rec["file"] in known:
                raise ValueError(f"{rec['file']} is in both references")
            if "dsid" in rec and rec["dsid"] not in samples:
                raise ValueError(f"no normalisation for {rec['file']} in the references")
            files.append(rec)
    # every normalisation table the catalogue knows (analyses name one; a typo is refused)
    tables = sorted({t for rec in norm.values() for t in rec["tables"]})
    return {
        "release": "2020",
        "locations": LOCATIONS,
        "tables": tables,
        "samples": samples,
        "files": files,
    }


# 2025e: where the portal keeps the files (reference 2025e §3.2); {portal_dir} is the folder
# below /eos/opendata/atlas/rucio/ (opendata, or user/egramsta for noskim and 2bjets).
LOCATIONS_2025E = [
    {
        "name": "cern-opendata-portal",
        "url": "https://opendata.cern.ch/eos/opendata/atlas/rucio/{portal_dir}/{file}",
    },
    {
        "name": "eospublic-xrootd",
        "url": "root://eospublic.cern.ch//eos/opendata/atlas/rucio/{portal_dir}/{file}",
    },
]
FILE_RE_2025E = re.compile(
    r"^(?:ODEO_FEB2025_v0_[0-9A-Za-z]+_)?(?:(?P<period>data1[56]_period[A-Z])"
    r"|mc_(?P<dsid>\d+)\.(?P<short>[^.]+))\.[0-9A-Za-z]+\.root$"
)
SKIM_HEADING_2025E = re.compile(r"^#### B\.\d+ Skim `(?P<skim>[^`]+)`.*directory `(?P<dir>[^`]+)`")
# The one 2025e record the reference gives in full (§5.3, atlasopenmagic get_metadata(345060)).
SAMPLES_2025E = {
    345060: {
        "name": "PowhegPythia8EvtGen_NNLOPS_nnlo_30_ggH125_ZZ4l",
        "xsec_pb": 28.3,
        "k_factor": 1.717,
        "filter_eff": 0.000124,
        "sumw": 45231011.19517517,
    }
}


# Samples this project's own 2025e ports read from the noskim files of Appendix A (no skim of
# Appendix B has them): the 3 TeV Z′ → tt̄ of the Z′ port.  Their folder: reference 2025e §3.2.
NOSKIM_2025E = (301333,)
NOSKIM_DIR_2025E = "user/egramsta"


def noskim_files_2025e(lines: list[str]) -> list[dict]:
    """The noskim files of the samples ``NOSKIM_2025E`` from Appendix A (DSID, physics_short,
    size, adler32)."""
    start = next(i for i, line in enumerate(lines) if line.startswith("## Appendix A"))
    rows = {int(cells[0]): cells for cells in _rows(lines, start) if cells[0].isdigit()}
    files = []
    for dsid in NOSKIM_2025E:
        _, short, size, adler = rows[dsid][:4]
        fname = f"mc_{dsid}.{short}.noskim.root"
        m = FILE_RE_2025E.match(fname)
        assert m is not None, fname
        files.append(file_record(fname, "noskim", int(size), adler, NOSKIM_DIR_2025E, m))
    return files


def build_2025e(reference: Path) -> dict:
    """The 2025e catalogue from the reference's Appendix B (and the noskim files of Appendix
    A that the project's own ports read)."""
    lines = reference.read_text(encoding="utf-8").splitlines()
    files = []
    for idx, line in enumerate(lines):
        heading = SKIM_HEADING_2025E.match(line)
        if heading is None:
            continue
        portal_dir = heading["dir"].removeprefix("/eos/opendata/atlas/rucio/").strip("/")
        for cells in _rows(lines, idx + 1):
            fname, size, adler = cells[0], int(cells[1]), cells[2]
            m = FILE_RE_2025E.match(fname)
            if m is None:
                raise ValueError(f"unexpected file name in Appendix B: {fname}")
            files.append(file_record(fname, heading["skim"], size, adler, portal_dir, m))
    files += noskim_files_2025e(lines)
    return {
        "release": "2025e",
        "locations": LOCATIONS_2025E,
        "samples": SAMPLES_2025E,
        "files": files,
    }


# atlasopenmagic's name of the release (reference 2025e §7)
ATLASOPENMAGIC_RELEASE = "2025e-13tev-beta"


def atlasopenmagic_records(export: Path | None, save: Path | None = None) -> dict[str, Any]:
    """atlasopenmagic's records of the 2025e release, keyed by DSID string (and by lower-case
    short name and "data", as its cache is): read from ``export`` (a ``save_metadata`` JSON
    file), or, when it is None, downloaded now by atlasopenmagic from its API (and written
    to ``save`` if given)."""
    if export is not None:
        return json.loads(export.read_text(encoding="utf-8"))
    try:
        import atlasopenmagic as atom
    except ImportError:
        raise SystemExit(
            "--online needs atlasopenmagic: pip install 'atlasod[catalogue]'"
        ) from None
    atom.set_release(ATLASOPENMAGIC_RELEASE)  # downloads the whole release's metadata
    with tempfile.TemporaryDirectory() as tmp:
        path = save or Path(tmp) / "metadata.json"
        atom.save_metadata(str(path))
        return json.loads(path.read_text(encoding="utf-8"))


def samples_from_atlasopenmagic(records: dict[str, Any], files: list[dict]) -> dict[int, dict]:
    """The sample metadata of every MC file of ``files`` from atlasopenmagic's ``records``,
    after checking that they name the same files as the reference: a record per DSID, the
    file's short name, and among the record's skim files, one with the file's name in its
    portal folder."""
    samples: dict[int, dict] = {}
    problems = []
    for rec in files:
        if "dsid" not in rec:
            continue
        dsid = rec["dsid"]
        meta = records.get(str(dsid))
        if meta is None:
            problems.append(f"DSID {dsid} ({rec['file']}): no atlasopenmagic record")
            continue
        match = FILE_RE_2025E.match(rec["file"])
        if match is None or match["short"] != meta["physics_short"]:
            short = meta["physics_short"]
            problems.append(f"{rec['file']}: atlasopenmagic's short name is {short}")
        urls = [  # the noskim files are the record's own file_list
            url
            for skim in [{"skim_type": "noskim", "file_list": meta.get("file_list")}]
            + (meta.get("skims") or [])
            if skim.get("skim_type") == rec["skim"]
            for url in skim.get("file_list") or []
        ]
        wanted = f"/rucio/{rec['portal_dir']}/{rec['file']}"
        if not any(url.endswith(wanted) for url in urls):
            problems.append(f"{rec['file']}: not in atlasopenmagic's {rec['skim']} files {urls}")
        samples[dsid] = {
            "name": meta["physics_short"],
            "xsec_pb": float(meta["cross_section_pb"]),
            "k_factor": float(meta["kFactor"]),
            "filter_eff": float(meta["genFiltEff"]),
            "sumw": float(meta["sumOfWeights"]),
        }
    if problems:
        raise ValueError(
            "the reference and atlasopenmagic disagree:\n  " + "\n  ".join(sorted(problems))
        )
    return dict(sorted(samples.items()))


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("--release", choices=["2020", "2025e"], default="2020")
    parser.add_argument("--more", type=Path, help="2020: the reference of the other analyses")
    parser.add_argument(
        "--out", type=Path, help="default: src/atlasod/data/catalogues/<release>.yaml"
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--online",
        action="store_true",
        help="2025e: the samples' metadata from atlasopenmagic's API (needs the internet)",
    )
    source.add_argument(
        "--metadata", type=Path, help="2025e: the same from an atlasopenmagic JSON export"
    )
    parser.add_argument(
        "--save-metadata", type=Path, help="--online: keep atlasopenmagic's export here"
    )
    args = parser.parse_args()
    out = args.out or Path(f"src/atlasod/data/catalogues/{args.release}.yaml")
    if (args.online or args.metadata) and args.release != "2025e":
        parser.error("--online and --metadata are for --release 2025e")
    if args.release == "2020":
        data = build(args.reference, args.more)
    else:
        data = build_2025e(args.reference)
        if args.online or args.metadata:
            records = atlasopenmagic_records(args.metadata, args.save_metadata)
            data["samples"] = samples_from_atlasopenmagic(records, data["files"])
    header = (
        "# Generated by tools/build_catalogue.py from the shared physics reference: do not edit.\n"
    )
    out.write_text(header + yaml.safe_dump(data, sort_keys=False, width=200), encoding="utf-8")
    LOG.info("%d samples, %d files -> %s", len(data["samples"]), len(data["files"]), out)


if __name__ == "__main__":
    main()
