"""An analysis is a folder: ``analysis.yaml`` (declarative) plus ``selection.py`` (physics).

The engine never names an analysis.  It discovers folders under ``analyses/``,
validates their config against ``schemas/analysis.schema.yaml`` and loads their
physics module from the file, so adding an analysis means adding a folder.
"""

from __future__ import annotations

import difflib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import jsonschema

from atlasod.data.catalogue import Catalogue, SampleFile
from atlasod.errors import AtlasodError
from atlasod.selection.declarative import DeclarativeSelection
from atlasod.yamlio import YAMLError, load_yaml

CONFIG_NAME = "analysis.yaml"
SELECTION_NAME = "selection.py"
DEMO_NAME = "demo.py"


def load_schema(name: str) -> dict[str, Any]:
    text = resources.files("atlasod").joinpath(f"schemas/{name}").read_text("utf-8")
    return load_yaml(text)


def validate(instance: Any, schema: dict[str, Any], origin: str) -> None:
    """Validate against a JSON schema; the error names the file, the key and what is allowed."""
    validator = jsonschema.Draft7Validator(schema)  # draft 7: jsonschema 3.2 in REANA 0.9
    errors = sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    err = errors[0]
    where = ".".join(str(p) for p in err.absolute_path) or "<top level>"
    msg = err.message
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        msg += f" (allowed keys: {', '.join(allowed)})"
    raise AtlasodError(f"{origin}: invalid value at '{where}': {msg}")


@dataclass(frozen=True)
class HistogramSpec:
    name: str
    variable: str
    bins: int
    low: float
    high: float
    xlabel: str
    where: str | None = None
    overflow: str = "fold"
    ylog: bool = False
    ymin: float | None = None
    ymax: float | None = None
    double_fill_option: str | None = None
    after: str | None = None  # declarative: filled after this cut, not after the last
    # filled with each of these variables at weight / their number (always, or when the
    # switch fill_each_option is on) instead of `variable`
    fill_each: tuple[str, ...] = ()
    fill_each_option: str | None = None

    def filled_with(self, options: dict[str, Any]) -> tuple[tuple[str, ...], float]:
        """The variables this histogram is filled with under ``options``, and the factor on
        the event weight of each fill."""
        if self.fill_each and (self.fill_each_option is None or options.get(self.fill_each_option)):
            return self.fill_each, 1.0 / len(self.fill_each)
        return (self.variable,), 1.0


@dataclass(frozen=True)
class Group:
    name: str
    label: str
    color: str
    samples: tuple[SampleFile, ...]
    signal: bool = False
    scale: float = 1.0
    scale_option: str | None = None
    scale_except_containing: str | None = None
    draw: str = "stack"
    normalise_to_stack: bool = False
    only_histograms_containing: str | None = None
    normalisation_table: str | None = None
    normalisation_table_option: str | None = None

    @property
    def stacked(self) -> bool:
        """Part of the MC prediction (stack, total, ratio); a ``line`` group is not."""
        return self.draw == "stack"

    def factor(self, options: dict[str, Any], histogram: str | None = None) -> float:
        """The group's ad-hoc factor, if its switch (when it has one) is on and, for a
        histogram, if the histogram is not one of its exceptions."""
        if self.scale_option is not None and not options.get(self.scale_option, False):
            return 1.0
        exception = self.scale_except_containing
        if histogram is not None and exception and exception in histogram:
            return 1.0
        return self.scale

    def drawn_on(self, histogram: str) -> bool:
        return self.only_histograms_containing is None or (
            self.only_histograms_containing in histogram
        )


DEFAULT_RELEASE = "2020"


def _read_config(config_path: Path) -> dict[str, Any]:
    if not config_path.is_file():
        raise AtlasodError(f"analysis folder {config_path.parent} has no {CONFIG_NAME}")
    try:
        raw = load_yaml(config_path.read_text("utf-8"))
    except YAMLError as exc:
        raise AtlasodError(f"{config_path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise AtlasodError(f"{config_path}: must be a mapping of keys (name, title, skim, ...)")
    return raw


def config_releases(raw: dict[str, Any]) -> list[str]:
    """The releases an analysis config runs on: its top level's, then its ``releases``."""
    top = str(raw.get("release", DEFAULT_RELEASE))
    others = raw.get("releases") or {}
    return [top] + [str(r) for r in others if str(r) != top]


def analysis_releases(folder: Path) -> list[str]:
    """The releases the analysis in ``folder`` runs on."""
    return config_releases(_read_config(folder / CONFIG_NAME))


def merge_overlay(base: Any, overlay: Any) -> Any:
    """``base`` with ``overlay`` on top: mappings merge key by key, a null removes a key,
    anything else (lists, values) replaces."""
    if not isinstance(base, dict) or not isinstance(overlay, dict):
        return overlay
    out = dict(base)
    for key, value in overlay.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_overlay(out.get(key), value) if key in out else value
    return out


def config_for_release(raw: dict[str, Any], release: str, config_path: Path) -> dict[str, Any]:
    """The analysis config on ``release``: the top level, with that release's block of
    ``releases`` on it."""
    overlays = {str(k): v for k, v in (raw.get("releases") or {}).items()}
    if release not in config_releases(raw):
        raise AtlasodError(
            f"{config_path}: analysis {raw.get('name')} does not run on release {release} "
            f"(it runs on {', '.join(config_releases(raw))}); add a block for it under "
            "releases: (docs/releases.md)"
        )
    top = {k: v for k, v in raw.items() if k not in ("releases", "release")}
    if release == str(raw.get("release", DEFAULT_RELEASE)):
        return top
    return merge_overlay(top, overlays[release])


class Analysis:
    """A validated analysis folder, on the release of its catalogue."""

    def __init__(self, folder: Path, catalogue: Catalogue) -> None:
        self.folder = folder
        self.release = catalogue.release  # the layout of the files it reads
        config_path = folder / CONFIG_NAME
        whole = _read_config(config_path)
        validate(whole, load_schema("analysis.schema.yaml"), str(config_path))
        raw = config_for_release(whole, self.release.name, config_path)
        # the release the top level describes; the others are blocks of `releases`
        self.top_release = str(whole.get("release", DEFAULT_RELEASE))
        overlay: tuple[str, ...] = ()
        if self.release.name != self.top_release:
            overlay = ("releases", self.release.name)
            origin = f"{config_path} (release {self.release.name})"
            validate(raw, load_schema("analysis.schema.yaml"), origin)
        if raw["name"] != folder.name:
            raise AtlasodError(
                f"{config_path}: name {raw['name']!r} must equal the folder name {folder.name!r}"
            )
        self.config_path = config_path
        self.raw: dict[str, Any] = raw
        self.name: str = raw["name"]
        self.title: str = raw["title"]
        self.skim: str = raw["skim"]
        self._check_skim(self.skim, "skim")
        self.lumi_pb: float = float(raw.get("lumi_pb", self.release.lumi_pb))
        self.lumi_source: str = raw.get("lumi_source", self.release.lumi_source)
        self.normalisation_table: str | None = raw.get("normalisation_table")
        self.weight_factors: list[str] = raw["weight_factors"]
        # every MC event counted once (no factors, no normalisation): a look at a shape
        self.unweighted: bool = bool(raw.get("unweighted", False))
        if self.unweighted and self.weight_factors:
            raise AtlasodError(
                f"{config_path}: unweighted: true counts MC events without weights, so "
                f"weight_factors must be empty (it lists {', '.join(self.weight_factors)})"
            )
        if not self.unweighted and not self.weight_factors:
            raise AtlasodError(
                f"{config_path}: weight_factors is empty: list the MC weight's branches "
                "(mcWeight and scale factors), or set unweighted: true to count MC events"
            )
        self.weight_abs_option: str | None = raw.get("weight_abs_option")
        data_skim = raw["data"].get("skim", self.skim)
        self._check_skim(data_skim, "data.skim")
        periods = raw["data"]["periods"]
        if periods == "all":
            periods = list(self.release.periods)
        for period in periods:
            if period not in self.release.periods:
                raise AtlasodError(
                    f"{config_path}: data.periods: release {self.release.name} has no period "
                    f"{period!r}; its periods: {', '.join(self.release.periods)} (or: all)"
                )
        self.data_files = tuple(
            catalogue.sample(self.release.data_sample.format(period=p), data_skim) for p in periods
        )
        self.groups = tuple(self._group(g, catalogue) for g in raw["groups"])
        self._check_tables(catalogue)
        self.histograms = tuple(
            HistogramSpec(
                name=h["name"],
                variable=h["variable"],
                bins=h["bins"],
                low=float(h["range"][0]),
                high=float(h["range"][1]),
                xlabel=h["xlabel"],
                where=h.get("where"),
                overflow=h.get("overflow", "fold"),
                ylog=h.get("ylog", raw.get("plot", {}).get("ylog", False)),
                ymin=h.get("ymin"),
                ymax=h.get("ymax"),
                double_fill_option=h.get("double_fill_option"),
                after=h.get("after"),
                fill_each=tuple(h.get("fill_each", ())),
                fill_each_option=h.get("fill_each_option"),
            )
            for h in raw["histograms"]
        )
        for h in self.histograms:
            if not h.low < h.high:
                raise AtlasodError(f"{config_path}: histogram {h.name}: range must be increasing")
            if h.fill_each_option and not h.fill_each:
                raise AtlasodError(
                    f"{config_path}: histogram {h.name}: fill_each_option needs fill_each "
                    "(the variables filled when the switch is on)"
                )
        names = [h.name for h in self.histograms]
        if len(set(names)) != len(names):
            raise AtlasodError(f"{config_path}: histogram names must be unique")
        self.plot: dict[str, Any] = raw.get("plot", {})
        self.fit: dict[str, Any] | None = raw.get("fit")
        if not self.data_files and (self.fit or self.plot.get("style", "stack") != "stack"):
            raise AtlasodError(
                f"{config_path}: data.periods is empty (the simulation alone), so there is "
                "no data to fit or to plot as points: remove fit: and use plot.style: stack"
            )
        if self.fit and self.fit["histogram"] not in names:
            raise AtlasodError(
                f"{config_path}: fit.histogram {self.fit['histogram']!r} is not one of {names}"
            )
        self._check_fit(config_path)
        self.demo: dict[str, Any] = raw.get("demo", {})
        self._check_demo_groups(config_path)
        self.selection_options: dict[str, Any] = raw.get("selection", {})
        self.declarative: DeclarativeSelection | None = None
        has_module = (folder / SELECTION_NAME).is_file()
        # a release's block may give that release a declarative selection of its own
        blocks = {str(k): v for k, v in (whole.get("releases") or {}).items()}
        block_cuts = bool(overlay) and "cuts" in (blocks.get(self.release.name) or {})
        if "cuts" in raw:
            if has_module and not block_cuts:
                raise AtlasodError(
                    f"{config_path}: defines cuts and {folder / SELECTION_NAME} exists: "
                    "keep one of the two"
                )
            self.declarative = DeclarativeSelection(raw, config_path, catalogue.release, overlay)
            self.declarative.check_histograms(
                [h.variable for h in self.histograms]
                + [v for h in self.histograms for v in h.fill_each]
                + [h.where for h in self.histograms if h.where],
                [
                    (h.name, h.after, {h.variable, *h.fill_each, h.where} - {None})
                    for h in self.histograms
                    if h.after
                ],
            )
        elif not has_module:
            raise AtlasodError(
                f"{config_path}: the analysis needs either {SELECTION_NAME} or a declarative "
                "selection (cuts:, with objects: and variables:)"
            )
        if self.declarative is None and any(h.after for h in self.histograms):
            raise AtlasodError(
                f"{config_path}: histograms filled 'after' a cut need a declarative selection "
                f"(cuts:); {SELECTION_NAME} returns the selected events only"
            )

    def _check_demo_groups(self, config_path: Path) -> None:
        """The groups named in the demo block's composition and data_over_mc_groups are
        groups of the analysis (a name with a comma must be quoted in a YAML flow mapping:
        {"ZZ,WW": 0.1}, not {ZZ,WW: 0.1}, which is two keys)."""
        groups = [g.name for g in self.groups]
        for key in ("composition", "data_over_mc_groups"):
            for name in self.demo.get(key) or {}:
                if name not in groups:
                    close = difflib.get_close_matches(str(name), groups, n=1)
                    hint = f"; did you mean {close[0]!r}?" if close else ""
                    raise AtlasodError(
                        f"{config_path}: demo.{key}: {name!r} is not a group of the analysis "
                        f"(its groups: {', '.join(groups)}){hint}; a name with a comma needs "
                        'quotes in {...}: "ZZ,WW"'
                    )

    def _check_tables(self, catalogue: Catalogue) -> None:
        """The normalisation tables named (the analysis', the groups') are the catalogue's."""
        if not catalogue.tables:
            return
        named = [("normalisation_table", self.normalisation_table)] + [
            (f"group {g.name}: normalisation_table", g.normalisation_table) for g in self.groups
        ]
        for key, table in named:
            if table is not None and table not in catalogue.tables:
                close = difflib.get_close_matches(table, catalogue.tables, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise AtlasodError(
                    f"{self.config_path}: {key}: {table!r} is not a normalisation table of the "
                    f"catalogue (its tables: {', '.join(catalogue.tables)}){hint}"
                )

    def _check_skim(self, skim: str, key: str) -> None:
        if skim not in self.release.skims:
            raise AtlasodError(
                f"{self.folder / CONFIG_NAME}: {key}: release {self.release.name} has no skim "
                f"{skim!r}; its skims: {', '.join(self.release.skims)}"
            )

    def _group(self, raw: dict[str, Any], catalogue: Catalogue) -> Group:
        samples = []
        for item in raw["samples"]:
            name, skim = (
                (item, self.skim)
                if not isinstance(item, dict)
                else (item["name"], item.get("skim", self.skim))
            )
            if isinstance(name, int):
                try:
                    samples.append(catalogue.dsid_sample(name, skim))
                except AtlasodError as exc:
                    raise AtlasodError(f"{self.config_path}: group {raw['name']}: {exc}") from None
                continue
            if "*" in name or "?" in name:
                matched = catalogue.matching(name, skim)
                if not matched:
                    raise AtlasodError(
                        f"{self.config_path}: group {raw['name']}: no {skim} sample matches "
                        f"{name!r}"
                    )
                samples.extend(matched)
                continue
            try:
                samples.append(catalogue.sample(name, skim))
            except AtlasodError as exc:
                raise AtlasodError(f"{self.config_path}: group {raw['name']}: {exc}") from None
        return Group(
            name=raw["name"],
            label=raw.get("label", raw["name"]),
            color=raw["color"],
            samples=tuple(samples),
            signal=raw.get("signal", False),
            scale=raw.get("scale", 1.0),
            scale_option=raw.get("scale_option"),
            scale_except_containing=raw.get("scale_except_containing"),
            draw=raw.get("draw", "stack"),
            normalise_to_stack=raw.get("normalise_to_stack", False),
            only_histograms_containing=raw.get("only_histograms_containing"),
            normalisation_table=raw.get("normalisation_table"),
            normalisation_table_option=raw.get("normalisation_table_option"),
        )

    def _check_fit(self, config_path: Path) -> None:
        fit = self.fit
        if not fit:
            return
        model = fit["model"]
        if model in ("poly3_gauss", "breit_wigner_gauss", "window_significance") and (
            "range" not in fit
        ):
            raise AtlasodError(f"{config_path}: fit.range is required by model {model}")
        if model in ("mc_normalisation", "signal_upper_limit", "window_significance"):
            names = [g.name for g in self.groups]
            if fit.get("group") not in names:
                raise AtlasodError(
                    f"{config_path}: fit.group {fit.get('group')!r} must name one of the "
                    f"groups {names} (model {model})"
                )

    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        raise AtlasodError(f"analysis {self.name} has no group {name!r}")

    def table_of(self, sample: SampleFile, options: dict[str, Any]) -> str | None:
        """The normalisation table of an MC sample: its group's own, if it has one and that
        one's switch (when it has one) is on, else the analysis'."""
        for g in self.groups:
            if sample in g.samples and g.normalisation_table is not None:
                switch = g.normalisation_table_option
                if switch is None or options.get(switch, False):
                    return g.normalisation_table
        return self.normalisation_table

    @property
    def options(self) -> list[str]:
        """Names of the analysis' config switches (``scale_option``, ``double_fill_option``,
        ``fill_each_option``, ``normalisation_table_option``, ``switches``,
        ``weight_abs_option``, the fit's ``signal_includes_background_option``)."""
        names = {g.scale_option for g in self.groups if g.scale_option}
        if self.weight_abs_option:
            names.add(self.weight_abs_option)
        if self.fit and self.fit.get("signal_includes_background_option"):
            names.add(self.fit["signal_includes_background_option"])
        names |= {g.normalisation_table_option for g in self.groups if g.normalisation_table_option}
        names |= {h.double_fill_option for h in self.histograms if h.double_fill_option}
        names |= {h.fill_each_option for h in self.histograms if h.fill_each_option}
        names |= set(self.raw.get("switches") or {})
        return sorted(names)

    @property
    def mc_files(self) -> tuple[SampleFile, ...]:
        return tuple(s for g in self.groups for s in g.samples)

    @property
    def files(self) -> tuple[SampleFile, ...]:
        """Every file the analysis reads: data periods first, then MC in group order."""
        return self.data_files + self.mc_files

    def file(self, stem: str) -> SampleFile:
        for f in self.files:
            if f.stem == stem:
                return f
        raise AtlasodError(f"analysis {self.name} does not read a file {stem!r}")

    @cached_property
    def selection(self) -> Any:
        """The physics module ``selection.py``, or the declarative selection.

        It defines ``BRANCHES`` (what to read) and ``select_events(events, options)``
        returning a :class:`atlasod.selection.physics.Selected`; ``options`` is the config's
        ``selection`` mapping.
        """
        if self.declarative is not None:
            return self.declarative
        module = _load_module(
            self.folder / SELECTION_NAME, f"atlasod_analyses.{self.name}.selection"
        )
        for attr in ("BRANCHES", "select_events"):
            if not hasattr(module, attr):
                raise AtlasodError(f"{self.folder / SELECTION_NAME} must define {attr}")
        return module

    @property
    def uses_generic_demo(self) -> bool:
        """No ``demo.py``: the demo data come from a model of the engine (``demo.model``)."""
        return not (self.folder / DEMO_NAME).is_file() and "model" in self.demo

    @cached_property
    def demo_module(self) -> ModuleType:
        """The folder's demo-physics module ``demo.py`` (``generate_events``); analyses
        without one use an engine model (see :func:`atlasod.demo.generate.demo_generator`)."""
        module = _load_module(self.folder / DEMO_NAME, f"atlasod_analyses.{self.name}.demo")
        if not hasattr(module, "generate_events"):
            raise AtlasodError(f"{self.folder / DEMO_NAME} must define generate_events")
        return module


# Where the modules of the flat package (0.1) went: an analysis folder that still imports
# an old name is told the new one.
MOVED_MODULES = {
    "analysis": "atlasod.selection.analysis",
    "expressions": "atlasod.selection.expressions",
    "expression_functions": "atlasod.selection.expression_functions",
    "columns": "atlasod.selection.columns",
    "declarative": "atlasod.selection.declarative",
    "physics": "atlasod.selection.physics",
    "processing": "atlasod.selection.chunk (reading: atlasod.data.trees)",
    "cache": "atlasod.data.cache",
    "catalogue": "atlasod.data.catalogue",
    "fetch": "atlasod.data.fetch",
    "mini": "atlasod.data.release (the tree's schema is data: data/releases/)",
    "multiply": "atlasod.data.multiply",
    "datalake": "atlasod.data.datalake",
    "plan": "atlasod.data.plan",
    "merging": "atlasod.results.merging",
    "yields": "atlasod.results.yields",
    "fitting": "atlasod.results.fitting",
    "statistics": "atlasod.results.statistics",
    "validation": "atlasod.results.validation",
    "plotting": "atlasod.results.plotting",
    "provenance": "atlasod.results.provenance",
    "daskrun": "atlasod.run.daskrun",
    "coffea_processor": "atlasod.run.coffea_processor",
    "failures": "atlasod.run.failures",
    "notebook": "atlasod.classroom.notebook",
    "templates": "atlasod.classroom.templates",
    "classroom": "atlasod.classroom.collect (class-sync: atlasod.classroom.sync)",
    "demo": "atlasod.demo.generate",
    "demo_kinematics": "atlasod.demo.kinematics",
    "demo_models": "atlasod.demo.models",
}


def _load_module(path: Path, module_name: str) -> ModuleType:
    if not path.is_file():
        raise AtlasodError(f"{path} does not exist")
    loaded = sys.modules.get(module_name)
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded  # (an analysis of the same name in another folder is loaded anew)
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except ModuleNotFoundError as exc:
        del sys.modules[module_name]
        moved = MOVED_MODULES.get((exc.name or "").removeprefix("atlasod."))
        if moved is None or not (exc.name or "").startswith("atlasod."):
            raise
        where = [
            f.lineno for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)
        ]
        raise AtlasodError(
            f"{path}, line {where[-1] if where else '?'}: the module {exc.name} is now {moved} "
            "(the package is split by stage: docs/writing-an-analysis.md); change the import"
        ) from None
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


def discover(root: Path) -> list[str]:
    """Names of the analysis folders under ``root`` (each holds an ``analysis.yaml``)."""
    return sorted(p.parent.name for p in root.glob(f"*/{CONFIG_NAME}"))


def load_analysis(root: Path, name: str, catalogue: Catalogue | None = None) -> Analysis:
    folder = root / name
    if not folder.is_dir():
        raise AtlasodError(
            f"no analysis {name!r} under {root}; available: {', '.join(discover(root))}"
        )
    return Analysis(folder, catalogue or Catalogue.load())
