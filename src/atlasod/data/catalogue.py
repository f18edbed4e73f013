"""The sample catalogue of a release: every file the analyses read, where it is, its
size and checksum, and (where the release takes it from tables) its normalisation.

One YAML file per release (``data/catalogues/<release>.yaml``, generated from the shared
physics references by ``tools/build_catalogue.py``) is the single place that knows the
samples; it says which release it belongs to, whose description
(:mod:`atlasod.data.release`) gives the files' naming.  Real and demo data use the same
file names, so one catalogue drives both.
"""

from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from atlasod.data.release import Release
from atlasod.errors import AtlasodError
from atlasod.yamlio import load_yaml

CATALOGUES = "data/catalogues"
DEFAULT_RELEASE = "2020"


@dataclass(frozen=True)
class SampleFile:
    """One ROOT file of the release, e.g. ``mc_345060.ggH125_ZZ4lep.4lep.root``.

    ``short_name`` is the sample's name as analyses write it (``ggH125_ZZ4lep`` for MC,
    ``data_A`` for data; set by the catalogue from the release's naming)."""

    file: str
    skim: str
    size: int | None = None
    adler32: str | None = None
    portal_dir: str | None = None
    period: str | None = None
    dsid: int | None = None
    entries: int | None = None
    short_name: str = ""

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
    xsec_by_table: dict[str, float] = field(default_factory=dict)
    weight_sign_only: bool = False

    def scale(self, lumi_pb: float, table: str | None = None) -> float:
        """Luminosity scale factor per unit of event weight.

        ``table`` selects the sum of weights of one of the original normalisation
        tables (``Files_WBoson``, ``infofile``, ...) where they disagree, and its cross
        section where that differs (H→WW's ``Files_HWW`` against ``infofile``).
        """
        sumw = self.sumw_by_table.get(table, self.sumw) if table else self.sumw
        xsec = self.xsec_by_table.get(table, self.xsec_pb) if table else self.xsec_pb
        return lumi_pb * xsec * self.k_factor * self.filter_eff / sumw


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
            self.release = Release.load(self.release_name)
            self.locations = [Location(**loc) for loc in raw["locations"]]
            # the normalisation tables of the originals that the catalogue holds (none for a
            # release that normalises from the files' branches, or an older catalogue)
            self.tables: tuple[str, ...] = tuple(raw.get("tables") or ())
            self._norm = {
                int(dsid): Normalisation(dsid=int(dsid), **rec)
                for dsid, rec in (raw.get("samples") or {}).items()
            }
            files = [dict(rec) for rec in raw["files"]]
        except (KeyError, TypeError) as exc:
            raise AtlasodError(f"{origin}: malformed sample catalogue ({exc})") from exc
        except AtlasodError as exc:
            raise AtlasodError(f"{origin}: {exc}") from None
        self._files: dict[str, SampleFile] = {}
        for rec in files:
            short = self.release.sample_name(str(rec.get("file")))
            if short is None:
                raise AtlasodError(
                    f"{origin}: file name {rec.get('file')!r} does not follow the naming of "
                    f"release {self.release_name}"
                )
            try:
                self._files[rec["file"]] = SampleFile(**rec, short_name=short)
            except TypeError as exc:
                raise AtlasodError(f"{origin}: malformed sample catalogue ({exc})") from exc

    @classmethod
    def load(cls, path: Path | None = None, release: str | None = None) -> Catalogue:
        """Load ``path``, or the catalogue of ``release`` (default 2020) shipped with the
        package; a catalogue of another release than ``release`` is refused."""
        if path is None:
            release = release or DEFAULT_RELEASE
            packaged = resources.files("atlasod").joinpath(f"{CATALOGUES}/{release}.yaml")
            if not packaged.is_file():
                raise AtlasodError(
                    f"no sample catalogue for release {release!r}; releases: "
                    + ", ".join(packaged_releases())
                )
            text, origin = packaged.read_text("utf-8"), f"atlasod/{CATALOGUES}/{release}.yaml"
        else:
            if not path.is_file():
                raise AtlasodError(f"sample catalogue {path} does not exist")
            text, origin = path.read_text("utf-8"), str(path)
        catalogue = cls(load_yaml(text), origin)
        if release is not None and catalogue.release_name != release:
            raise AtlasodError(
                f"sample catalogue {origin} lists files of release {catalogue.release_name}, "
                f"but this run reads release {release}: give a catalogue of release {release} "
                f"or run with release={catalogue.release_name}"
            )
        return catalogue

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

    def dsid_sample(self, dsid: int, skim: str) -> SampleFile:
        """The MC file of data set ``dsid`` in ``skim``."""
        for f in self._files.values():
            if f.dsid == dsid and f.skim == skim:
                return f
        raise AtlasodError(f"DSID {dsid} has no {skim} file in the catalogue {self.origin}")

    def matching(self, pattern: str, skim: str) -> list[SampleFile]:
        """MC files of ``skim`` whose short name matches the shell-style ``pattern``
        (``Wmunu_PTV*``), in the catalogue's order."""
        return [
            f
            for (name, k), f in self._by_short.items()
            if k == skim and f.dsid is not None and fnmatch.fnmatchcase(name, pattern)
        ]

    def has_normalisation(self, dsid: int) -> bool:
        return dsid in self._norm

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


def packaged_releases() -> list[str]:
    """The releases whose catalogue is shipped with the package."""
    folder = resources.files("atlasod").joinpath(CATALOGUES)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


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
