"""The sample catalogue: every 2020 file the analyses read, its normalisation and locations.

One YAML file (``data/catalogue.yaml``, generated from the shared physics
reference by ``tools/build_catalogue.py``) is the single place that knows the
samples.  Real and demo data use the same file names, so one catalogue drives
both.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from atlasod.data.release import Release
from atlasod.errors import AtlasodError
from atlasod.yamlio import load_yaml

_FILE_RE = re.compile(
    r"^(?:data_(?P<period>[A-D])|mc_(?P<dsid>\d+)\.(?P<short>[^.]+))\.(?P<skim>[^.]+)\.root$"
)


@dataclass(frozen=True)
class SampleFile:
    """One ROOT file of the release, e.g. ``mc_345060.ggH125_ZZ4lep.4lep.root``."""

    file: str
    skim: str
    size: int | None = None
    adler32: str | None = None
    portal_dir: str | None = None
    period: str | None = None
    dsid: int | None = None
    entries: int | None = None

    @property
    def is_data(self) -> bool:
        return self.period is not None

    @property
    def kind(self) -> str:
        """Directory name of the file inside its skim: ``Data`` or ``MC``."""
        return "Data" if self.is_data else "MC"

    @property
    def stem(self) -> str:
        """File name without ``.root``: the key of the sample in histogram files."""
        return self.file.removesuffix(".root")

    @property
    def short_name(self) -> str:
        """``ggH125_ZZ4lep`` for MC, ``data_A`` for data."""
        m = _FILE_RE.match(self.file)
        assert m is not None  # checked at load
        return m["short"] or f"data_{m['period']}"

    @property
    def relpath(self) -> str:
        """Path below a data root: ``<skim>/<Data|MC>/<file>``, the layout of every mirror."""
        return f"{self.skim}/{self.kind}/{self.file}"


@dataclass(frozen=True)
class Normalisation:
    """MC normalisation of one DSID: ``w_norm = L * xsec * k * eff / sumw``."""

    dsid: int
    name: str
    xsec_pb: float
    sumw: float
    k_factor: float = 1.0
    filter_eff: float = 1.0
    sumw_by_table: dict[str, float] = field(default_factory=dict)
    weight_sign_only: bool = False

    def scale(self, lumi_pb: float, table: str | None = None) -> float:
        """Luminosity scale factor per unit of event weight.

        ``table`` selects the sum of weights of one of the original normalisation
        tables (``Files_WBoson``, ``infofile``, ...) where they disagree.
        """
        sumw = self.sumw_by_table.get(table, self.sumw) if table else self.sumw
        return lumi_pb * self.xsec_pb * self.k_factor * self.filter_eff / sumw


@dataclass(frozen=True)
class Location:
    name: str
    url: str


class Catalogue:
    """The parsed catalogue; look files up by name, skim or short name."""

    def __init__(self, raw: dict[str, Any], origin: str) -> None:
        self.origin = origin
        try:
            self.release_name = str(raw["release"])
            self.locations = [Location(**loc) for loc in raw["locations"]]
            self._norm = {
                int(dsid): Normalisation(dsid=int(dsid), **rec)
                for dsid, rec in raw["samples"].items()
            }
            self._files = {rec["file"]: SampleFile(**rec) for rec in raw["files"]}
        except (KeyError, TypeError) as exc:
            raise AtlasodError(f"{origin}: malformed sample catalogue ({exc})") from exc
        for name in self._files:
            if not _FILE_RE.match(name):
                raise AtlasodError(
                    f"{origin}: file name {name!r} does not follow the release naming"
                )

    @classmethod
    def load(cls, path: Path | None = None) -> Catalogue:
        """Load ``path``, or the catalogue shipped with the package."""
        if path is None:
            text = resources.files("atlasod").joinpath("data/catalogue.yaml").read_text("utf-8")
            origin = "atlasod/data/catalogue.yaml"
        else:
            if not path.is_file():
                raise AtlasodError(f"sample catalogue {path} does not exist")
            text, origin = path.read_text("utf-8"), str(path)
        return cls(load_yaml(text), origin)

    @cached_property
    def release(self) -> Release:
        """The release this catalogue's files belong to (its tree, branches, units)."""
        return Release.load(self.release_name)

    @property
    def files(self) -> list[SampleFile]:
        return list(self._files.values())

    @cached_property
    def _by_short(self) -> dict[tuple[str, str], SampleFile]:
        return {(f.short_name, f.skim): f for f in self._files.values()}

    def file(self, name: str) -> SampleFile:
        """The file called ``name`` (with or without ``.root``)."""
        key = name if name.endswith(".root") else f"{name}.root"
        try:
            return self._files[key]
        except KeyError:
            raise AtlasodError(
                f"file {name!r} is not in the sample catalogue {self.origin}"
                + _suggest(key, self._files)
            ) from None

    def sample(self, short_name: str, skim: str) -> SampleFile:
        """The file of sample ``short_name`` (``ggH125_ZZ4lep``, ``data_A``) in ``skim``."""
        try:
            return self._by_short[(short_name, skim)]
        except KeyError:
            known = sorted(s for s, k in self._by_short if k == skim)
            if not known:
                skims = sorted({k for _, k in self._by_short})
                raise AtlasodError(f"unknown skim {skim!r}; the catalogue has {skims}") from None
            raise AtlasodError(
                f"sample {short_name!r} has no {skim} file in the catalogue"
                + _suggest(short_name, known)
            ) from None

    def matching(self, pattern: str, skim: str) -> list[SampleFile]:
        """MC files of ``skim`` whose short name matches the shell-style ``pattern``
        (``Wmunu_PTV*``), in the catalogue's order."""
        return [
            f
            for (name, k), f in self._by_short.items()
            if k == skim and f.dsid is not None and fnmatch.fnmatchcase(name, pattern)
        ]

    def normalisation(self, dsid: int) -> Normalisation:
        try:
            return self._norm[dsid]
        except KeyError:
            raise AtlasodError(
                f"DSID {dsid} has no cross section / sum of weights in {self.origin}; "
                "add it to the reference and rerun tools/build_catalogue.py"
            ) from None

    def location_templates(self) -> list[str]:
        """The URL templates of the release ({skim}, {kind}, {file}, {portal_dir})."""
        return [loc.url for loc in self.locations]

    def urls(self, sample: SampleFile) -> list[str]:
        """Every known location of ``sample``, in the order they should be tried."""
        out = []
        for loc in self.locations:
            if "{portal_dir}" in loc.url and not sample.portal_dir:
                continue
            out.append(format_location(loc.url, sample))
        return out


def _suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)
    return f"; did you mean {', '.join(close)}?" if close else ""


def format_location(template: str, sample: SampleFile) -> str:
    """A URL template ({skim}, {kind}, {file}, {portal_dir}) filled in for ``sample``; a
    file without a portal folder gets ``<skim>/<kind>`` there."""
    return template.format(
        skim=sample.skim,
        kind=sample.kind,
        file=sample.file,
        portal_dir=sample.portal_dir or f"{sample.skim}/{sample.kind}",
    )
