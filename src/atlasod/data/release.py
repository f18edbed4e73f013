"""What a release is, as data: ``data/releases/<name>.yaml``.

A release description holds what differs between ATLAS Open Data releases and nothing
else: the tree's name, the unit of the files' energies, every branch with its numpy dtype
(per event, or per object of a collection), the real files' branch order and the data
periods.  The engine reads a release through :class:`Release` and names none: adding a
release is adding its file (and its catalogue, which says which release it belongs to).

Like the catalogue, this module needs only the standard library and PyYAML: the Snakefile
imports it while planning, where numpy is absent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from atlasod.errors import AtlasodError
from atlasod.yamlio import load_yaml

RELEASES = "data/releases"


def available() -> list[str]:
    """The names of the releases described in the package."""
    folder = resources.files("atlasod").joinpath(RELEASES)
    return sorted(
        p.name.removesuffix(".yaml") for p in folder.iterdir() if p.name.endswith(".yaml")
    )


@dataclass(frozen=True)
class Release:
    """One release's data layout (see the module's docstring)."""

    name: str
    title: str
    tree: str
    gev: float  # 1 GeV in the files' energy unit (1000 for MeV files)
    lumi_pb: float  # the release's integrated luminosity (an analysis may set its own)
    lumi_source: str  # where that value comes from
    skims: tuple[str, ...]
    file_name: re.Pattern[str]  # a file's name: groups period, dsid, short
    data_sample: str  # a data period's sample name ({period})
    scalars: dict[str, str]  # per-event branch -> numpy dtype
    collections: dict[str, dict[str, str]]  # collection -> field -> numpy dtype
    counter_dtype: str  # of the <collection>_n branches in the real files
    file_order: tuple[str, ...]
    periods: dict[str, dict[str, Any]]  # data period -> lumi_pb, run (None where unknown)
    demo: dict[str, Any]  # what demo files carry where a model sets nothing
    # MC normalisation from the files' branches (xsec_pb, k_factor, filter_eff, sumw ->
    # branch), or None: from the catalogue's tables
    normalisation_branches: dict[str, str] | None = None
    # how the 2020 schema's branches map to this one (renamed: name -> name or None, dropped;
    # energies: the 2020 branches in MeV), or None: this is that schema
    from_2020: dict[str, Any] | None = None
    # multiplied data: energy_field, scaled, resolutions (collection -> kind), met, met_phi,
    # met_objects, and optionally met_components (x, y) and rotated (more φ branches)
    smearing: dict[str, Any] | None = None

    @classmethod
    def load(cls, name: str) -> Release:
        if name not in available():
            raise AtlasodError(f"unknown release {name!r}; releases: {', '.join(available())}")
        origin = f"atlasod/{RELEASES}/{name}.yaml"
        raw: dict[str, Any] = load_yaml(
            resources.files("atlasod").joinpath(f"{RELEASES}/{name}.yaml").read_text("utf-8")
        )
        try:
            release = cls(
                name=str(raw["name"]),
                title=raw["title"],
                tree=raw["tree"],
                gev=float(raw["gev"]),
                lumi_pb=float(raw["luminosity"]["lumi_pb"]),
                lumi_source=str(raw["luminosity"]["source"]),
                skims=tuple(str(s) for s in raw["skims"]),
                file_name=re.compile(raw["file_name"]),
                data_sample=str(raw["data_sample"]),
                scalars=dict(raw["scalars"]),
                collections={c: dict(f) for c, f in raw["collections"].items()},
                counter_dtype=raw["counter_dtype"],
                file_order=tuple(raw["file_order"]),
                periods={
                    p: {"lumi_pb": v["lumi_pb"], "run": v["run"]} for p, v in raw["periods"].items()
                },
                demo={
                    "mc_run": raw["demo"]["mc_run"],
                    "prefix": raw["demo"]["scale_factor_prefix"],
                },
                normalisation_branches=_normalisation(raw["normalisation"]),
                from_2020=_from_2020(raw.get("from_2020")),
                smearing=dict(raw["smearing"]),
            )
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise AtlasodError(f"{origin}: malformed release description ({exc})") from exc
        if release.name != name or set(release.file_order) != set(release.branch_names()):
            raise AtlasodError(f"{origin}: its name or its file order does not match its branches")
        return release

    def translate_2020(self, columns: dict[str, Any]) -> dict[str, Any]:
        """Columns written in the 2020 schema (MeV; the demo models') in this release's:
        renamed, energies in its unit, columns without a counterpart left out, and the
        branches ``derived`` from 2020 ones (where the model did not write them itself)."""
        if self.from_2020 is None:
            return dict(columns)
        renamed, energies = self.from_2020["renamed"], self.from_2020["energies"]
        scale = self.gev / 1000.0
        out: dict[str, Any] = {}
        for name, values in columns.items():
            target = renamed.get(name, name)
            if target is None:
                continue
            out[target] = values * scale if name in energies else values
        for target, rule in self.from_2020["derived"].items():
            sources = rule["from"]
            if (target in columns and target not in sources) or not all(
                s in columns for s in sources
            ):
                continue
            out[target] = _derived(rule, columns)
        return out

    def sample_name(self, file: str) -> str | None:
        """The sample name of a file of this release (``ggH125_ZZ4lep``, ``data_A``;
        2025e: the physics short name, ``data15_periodD``), or None if ``file`` does not
        follow the release's naming."""
        m = self.file_name.match(file)
        if m is None:
            return None
        return m["short"] or self.data_sample.format(period=m["period"])

    def branch_names(self) -> list[str]:
        """Every branch: the scalars, then each collection's counter and fields."""
        names = list(self.scalars)
        for collection, fields in self.collections.items():
            names.append(f"{collection}_n")
            names.extend(f"{collection}_{f}" for f in fields)
        return names

    def object_branches(self) -> dict[str, str]:
        """Every per-object branch and its collection (``lep_pt`` -> ``lep``)."""
        return {
            f"{collection}_{f}": collection
            for collection, fields in self.collections.items()
            for f in fields
        }

    @property
    def units(self) -> dict[str, float]:
        """The unit constants of the expression language in the files' unit."""
        return {"GeV": self.gev, "MeV": self.gev / 1000.0, "TeV": self.gev * 1000.0}

    def period_share(self, period: str) -> float:
        """The share of the release's data in ``period``: by luminosity where every period's
        is known, equal otherwise."""
        lumis = [p["lumi_pb"] for p in self.periods.values()]
        if any(v is None for v in lumis):
            return 1.0 / len(lumis)
        return float(self._period(period)["lumi_pb"]) / sum(float(v) for v in lumis)

    def period_run(self, period: str) -> int | None:
        """A run number of ``period``, if the description has one."""
        return self._period(period)["run"]

    def _period(self, period: str) -> dict[str, Any]:
        if period not in self.periods:
            raise AtlasodError(f"release {self.name} has no data period {period!r}")
        return self.periods[period]


NORMALISATION_TERMS = ("xsec_pb", "k_factor", "filter_eff", "sumw")


def _normalisation(raw: dict[str, Any]) -> dict[str, str] | None:
    if raw["from"] == "catalogue":
        return None
    if raw["from"] != "branches" or set(raw["branches"]) != set(NORMALISATION_TERMS):
        raise KeyError(f"normalisation: from catalogue, or from branches {NORMALISATION_TERMS}")
    return dict(raw["branches"])


def _from_2020(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    derived = {}
    for target, rule in (raw.get("derived") or {}).items():
        if ("above" in rule) == ("below" in rule):
            raise ValueError(f"derived {target}: give one of above and below")
        derived[target] = {**rule, "from": list(rule["from"])}
    return {
        "renamed": dict(raw["renamed"]),
        "energies": frozenset(raw["energies"]),
        "derived": derived,
    }


def _derived(rule: dict[str, Any], columns: dict[str, Any]) -> Any:
    """A derived branch: true where every ``from`` column (divided by ``relative_to``, if
    given) is above (below) the rule's value; with ``values`` [if false, if true]."""
    condition = None
    for source in rule["from"]:
        value = columns[source]
        if "relative_to" in rule:
            value = value / columns[rule["relative_to"]]
        passed = value > rule["above"] if "above" in rule else value < rule["below"]
        condition = passed if condition is None else condition & passed
    if "values" not in rule:
        return condition
    low, high = rule["values"]
    return low + (high - low) * condition  # (numpy and awkward arrays alike, no import here)


def release_of_trees(names: list[str]) -> Release | None:
    """The release whose tree is among ``names`` (the keys of a file), if any."""
    for name in available():
        release = Release.load(name)
        if release.tree in names:
            return release
    return None
