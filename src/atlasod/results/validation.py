"""Compare a run's results with reference values: ``analyses/<name>/validation.yaml``.

The file has one list of checks per data source.  For ``demo`` the references are the
truth the generator injected (``truth.sum.<key>`` adds a key over the data files,
``truth.value.<key>`` reads a parameter); for ``real`` they are the cross-check numbers
of the original analyses (reference §12), exact or read off the published figures::

    real:
      - name: data events in 80-170 GeV
        quantity: hist.mass_four_lep.data.integral
        expected: 95
        tolerance: {rel: 0.15}
        kind: read
        source: "[DOC] fig_09h.png"

Quantities: ``yields.<path>`` and ``fit.<path>`` (keys into yields.json and fit.json),
``hist.<name>.<data|mc|GROUP>.<integral|max|peak|mean|std|bin(x)|quantile(q)>`` (the
summed data histogram, the total MC prediction or one MC group's, with the groups' factors;
``peak`` is the centre of the highest bin, ``mean`` and ``std`` those of the bin contents
at their bin centres within the range (a ROOT statistics box computes them from the filled
values: the binning adds about width²/12 to the variance), ``quantile(q)`` the x below which
a fraction q of the content lies, linear within its bin: where a distribution ends, an
edge).  A check passes
when |value − expected| ≤ max(abs, rel·|expected|, sigma·error), ``error`` being the
value at the path ``tolerance.error``.

A check may state an understood bias of the method, measured and written down beside it::

    shift: {value: 0.073, error: 0.006, reason: "lepton pT > 25 GeV sculpts the line shape"}

The reference is then ``expected + value`` and the statistical error is combined in
quadrature with the shift's ``error`` before ``sigma`` multiplies it.
"""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from atlasod.errors import AtlasodError
from atlasod.histio import atomic_path, read_histograms, summed, values_and_variances, write_json
from atlasod.results.merging import data_histogram
from atlasod.selection.analysis import Analysis, load_schema, merge_overlay, validate
from atlasod.yamlio import load_yaml

LOG = logging.getLogger(__name__)
FILE_NAME = "validation.yaml"
_BIN = re.compile(r"^bin\((?P<x>[-+0-9.eE]+)\)$")
_QUANTILE = re.compile(r"^quantile\((?P<q>0?\.[0-9]+)\)$")


@dataclass
class Inputs:
    """What a run produced (and, for demo data, what the generator injected)."""

    yields: dict[str, Any]
    fit: dict[str, Any] | None = None
    histograms_path: Path | None = None
    truth: list[dict[str, Any]] | None = None
    options: dict[str, bool] = field(default_factory=dict)  # the workflow switches (factors)
    _histograms_read: dict[str, Any] | None = field(default=None, repr=False)

    def histograms(self) -> dict[str, Any]:
        if self.histograms_path is None:
            raise AtlasodError("this check needs --histograms")
        if self._histograms_read is None:
            self._histograms_read = read_histograms(self.histograms_path)
        return self._histograms_read


def _walk(data: Any, path: list[str], full: str) -> Any:
    for key in path:
        if isinstance(data, dict) and key in data:
            data = data[key]
        elif isinstance(data, list) and key.isdigit() and int(key) < len(data):
            data = data[int(key)]
        else:
            raise AtlasodError(f"quantity {full!r}: no key {key!r}")
    return data


def quantity(path: str, inputs: Inputs, analysis: Analysis) -> float:
    """The value of ``path`` (see the module docstring) in a run's outputs."""
    head, _, rest = path.partition(".")
    parts = rest.split(".") if rest else []
    if head == "yields":
        found = _walk(inputs.yields, parts, path)
        if found is None:
            raise AtlasodError(f"quantity {path!r}: the analysis reads no data")
        return float(found)
    if head == "fit":
        if inputs.fit is None:
            raise AtlasodError(f"quantity {path!r}: the analysis has no fit result")
        if "failed" in inputs.fit:
            raise AtlasodError(f"quantity {path!r}: the fit failed ({inputs.fit['failed']})")
        return float(_walk(inputs.fit, parts, path))
    if head == "truth":
        if not inputs.truth:
            raise AtlasodError(f"quantity {path!r}: no generator truth (demo data only)")
        if len(parts) != 2 or parts[0] not in ("sum", "value"):
            raise AtlasodError(f"quantity {path!r}: use truth.sum.<key> or truth.value.<key>")
        values = [t[parts[1]] for t in inputs.truth if parts[1] in t]
        if not values:
            raise AtlasodError(f"quantity {path!r}: no data file's truth has {parts[1]!r}")
        if parts[0] == "sum":
            return float(sum(values))
        if len(set(values)) != 1:
            raise AtlasodError(f"quantity {path!r}: the data files disagree: {sorted(set(values))}")
        return float(values[0])
    if head == "hist":  # the last part may hold a decimal point: bin(91.75), quantile(0.99)
        return _histogram_quantity(path, rest.split(".", 2), inputs, analysis)
    raise AtlasodError(f"quantity {path!r}: must start with yields., fit., truth. or hist.")


def _histogram_quantity(path: str, parts: list[str], inputs: Inputs, analysis: Analysis) -> float:
    groups = [g.name for g in analysis.groups if g.stacked]
    if len(parts) != 3 or parts[1] not in ("data", "mc", *groups):
        raise AtlasodError(
            f"quantity {path!r}: use "
            "hist.<name>.<data|mc|group>.<integral|max|peak|mean|std|bin(x)|quantile(q)> "
            f"(groups: {', '.join(groups)})"
        )
    name, who, what = parts
    spec = next((h for h in analysis.histograms if h.name == name), None)
    if spec is None:
        raise AtlasodError(f"quantity {path!r}: analysis {analysis.name} has no histogram {name}")
    hists, fold = inputs.histograms(), spec.overflow == "fold"
    if who == "data":
        if not analysis.data_files:
            raise AtlasodError(f"quantity {path!r}: analysis {analysis.name} reads no data")
        h = data_histogram(analysis, hists, name)
        values, _ = values_and_variances(h, fold_overflow=fold)
    else:  # the groups' MC, with their factors (e.g. dibosons x 1.3), as plotted
        values = sum(
            values_and_variances(summed(hists, [s.stem for s in g.samples], name), fold)[0]
            * g.factor(inputs.options, name)
            for g in analysis.groups
            if g.stacked and who in ("mc", g.name)
        )
    edges = np.linspace(spec.low, spec.high, spec.bins + 1)
    centres = 0.5 * (edges[:-1] + edges[1:])
    if what in ("integral", "max", "peak"):
        if what == "peak":
            return float(centres[int(np.argmax(values))])
        return float(values.sum() if what == "integral" else values.max())
    if what in ("mean", "std"):
        if values.sum() <= 0:
            raise AtlasodError(f"quantity {path!r}: the histogram is empty")
        mean = float(np.average(centres, weights=values))
        variance = float(np.average((centres - mean) ** 2, weights=values))
        return mean if what == "mean" else float(np.sqrt(variance))
    q = _QUANTILE.match(what)
    if q:
        fraction, cumulative = float(q["q"]), np.cumsum(values)
        if not 0 < fraction < 1 or cumulative[-1] <= 0:
            raise AtlasodError(f"quantity {path!r}: needs 0 < q < 1 and a histogram with content")
        target = fraction * cumulative[-1]
        i = int(np.searchsorted(cumulative, target))
        below = cumulative[i - 1] if i > 0 else 0.0
        return float(edges[i] + (target - below) / values[i] * (edges[i + 1] - edges[i]))
    m = _BIN.match(what)
    if m:
        x = float(m["x"])
        i = int(np.searchsorted(edges, x, side="right")) - 1
        if not 0 <= i < len(values):
            raise AtlasodError(f"quantity {path!r}: {x} is outside the histogram")
        return float(values[i])
    raise AtlasodError(f"quantity {path!r}: unknown histogram quantity {what!r}")


def load_checks(analysis: Analysis, source: str) -> list[dict[str, Any]]:
    path = analysis.folder / FILE_NAME
    if not path.is_file():
        raise AtlasodError(f"analysis {analysis.name} has no {FILE_NAME} in {analysis.folder}")
    raw = load_yaml(path.read_text("utf-8"))
    validate(raw, load_schema("validation.schema.yaml"), str(path))
    release = analysis.release.name
    if release != analysis.top_release:  # the release's own block
        blocks = {str(k): v for k, v in (raw.get("releases") or {}).items()}
        if release not in blocks:
            raise AtlasodError(
                f"{path}: no checks for release {release} (add them under releases: {release}:)"
            )
        raw = merge_overlay({k: v for k, v in raw.items() if k != "releases"}, blocks[release])
    checks = raw.get(source) or []
    if not checks:
        raise AtlasodError(f"{path}: no checks for source {source!r} on release {release}")
    return checks


def run_checks(
    analysis: Analysis, checks: list[dict[str, Any]], inputs: Inputs
) -> list[dict[str, Any]]:
    rows = []
    for check in checks:
        value = quantity(check["quantity"], inputs, analysis)
        expected = check["expected"]
        expected = (
            quantity(expected, inputs, analysis) if isinstance(expected, str) else float(expected)
        )
        shift = check.get("shift", {"value": 0.0, "error": 0.0})
        expected += shift["value"]
        tol = check.get("tolerance", {})
        allowed = max(tol.get("abs", 0.0), tol.get("rel", 0.0) * abs(expected))
        error = None
        if "sigma" in tol:
            error = quantity(tol["error"], inputs, analysis)
            allowed = max(allowed, tol["sigma"] * math.hypot(error, shift["error"]))
        diff = value - expected
        ok = math.isfinite(value) and abs(diff) <= allowed
        rows.append(
            {
                "name": check["name"],
                "quantity": check["quantity"],
                "value": value,
                "expected": expected,
                "difference": diff,
                "allowed": allowed,
                "error": error,
                "kind": check.get("kind", "exact"),
                "source": check.get("source", ""),
                "shift": check.get("shift"),
                "passed": bool(ok),
            }
        )
    return rows


def table(analysis: Analysis, source: str, rows: list[dict[str, Any]]) -> str:
    lines = [
        f"# Validation: {analysis.name} ({source} data)",
        "",
        "| check | ours | reference | difference | allowed | kind | result | reference source |",
        "|---|---:|---:|---:|---:|---|---|---|",
    ]
    for r in rows:
        result = "ok" if r["passed"] else "**FAILED**"
        source = r["source"]
        if r.get("shift"):
            shift = r["shift"]
            note = f"includes {shift['value']:+.3g} ± {shift['error']:.2g}: {shift['reason']}"
            source = f"{source}; {note}" if source else note
        lines.append(
            f"| {r['name']} | {r['value']:.6g} | {r['expected']:.6g} | {r['difference']:+.3g} "
            f"| ±{r['allowed']:.3g} | {r['kind']} | {result} | {source} |"
        )
    return "\n".join(lines) + "\n"


def validate_run(
    analysis: Analysis,
    source: str,
    inputs: Inputs,
    out: Path,
    table_path: Path,
) -> list[dict[str, Any]]:
    """Run the checks; write JSON and Markdown if all pass, else raise with the table."""
    rows = run_checks(analysis, load_checks(analysis, source), inputs)
    return _report(analysis, source, rows, out, table_path)


def _report(
    analysis: Analysis, source: str, rows: list[dict[str, Any]], out: Path, table_path: Path
) -> list[dict[str, Any]]:
    text = table(analysis, source, rows)
    failed = [r["name"] for r in rows if not r["passed"]]
    if failed:
        raise AtlasodError(
            f"validation of {analysis.name} ({source}) failed for: {', '.join(failed)}\n{text}"
        )
    LOG.info("validation of %s (%s): %d checks passed\n%s", analysis.name, source, len(rows), text)
    write_json(out, {"analysis": analysis.name, "source": source, "checks": rows})
    with atomic_path(table_path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return rows


def _row(name: str, quantity: str, value: float, expected: float, allowed: float) -> dict[str, Any]:
    diff = value - expected
    return {
        "name": name,
        "quantity": quantity,
        "value": value,
        "expected": expected,
        "difference": diff,
        "allowed": allowed,
        "error": None,
        "kind": "multiplied",
        "source": "the unmultiplied run",
        "shift": None,
        "passed": bool(math.isfinite(value) and abs(diff) <= allowed),
    }


# How far the scaled statistical uncertainties may be from 1/√N: the variants' smearing
# widens the peaks a little (module atlasod.data.multiply), and fits move by their precision.
ERROR_SCALING_TOLERANCE = 0.25


def multiplied_checks(factor: int, base: Inputs, run: Inputs) -> list[dict[str, Any]]:
    """What must hold between a run on data multiplied ``factor`` times and the run on the
    original data (``base``): yields × N within the statistics of the multiplied sample,
    relative statistical uncertainties × 1/√N, each fitted peak position within the
    unmultiplied fit's uncertainty and its uncertainty × 1/√N."""
    n, root_n = float(factor), math.sqrt(factor)
    mc_1, mc_n = base.yields["total_mc"], run.yields["total_mc"]
    rows = []
    if base.yields["data"] is not None:  # (an analysis of the simulation alone has none)
        data_1, data_n = float(base.yields["data"]), float(run.yields["data"])
        rows.append(
            _row("data events × N", "yields.data", data_n, n * data_1, 3.0 * math.sqrt(n * data_1))
        )
    rows += [
        _row(
            "total MC × N",
            "yields.total_mc.yield",
            mc_n["yield"],
            n * mc_1["yield"],
            3.0 * root_n * mc_1["stat"],
        ),
    ]
    relative_1 = mc_1["stat"] / mc_1["yield"] if mc_1["yield"] else math.nan
    relative_n = mc_n["stat"] / mc_n["yield"] if mc_n["yield"] else math.nan
    rows.append(
        _row(
            "MC relative stat. uncertainty × √N",
            "yields.total_mc.stat / yield",
            relative_n * root_n,
            relative_1,
            ERROR_SCALING_TOLERANCE * relative_1,
        )
    )
    if base.fit is not None and run.fit is not None:
        for fit in (base.fit, run.fit):
            if "failed" in fit:
                raise AtlasodError(f"a fit failed ({fit['failed']}): nothing to compare")
        for name, p1 in base.fit["parameters"].items():
            if name != "mean" or p1.get("fixed"):
                continue
            pn = run.fit["parameters"][name]
            rows.append(
                _row(
                    f"fitted {name}",
                    f"fit.parameters.{name}.value",
                    pn["value"],
                    p1["value"],
                    p1["error"],
                )
            )
            rows.append(
                _row(
                    f"fitted {name}: uncertainty × √N",
                    f"fit.parameters.{name}.error",
                    pn["error"] * root_n,
                    p1["error"],
                    ERROR_SCALING_TOLERANCE * p1["error"],
                )
            )
    return rows


def validate_multiplied(
    analysis: Analysis,
    source: str,
    factor: int,
    base: Inputs,
    run: Inputs,
    out: Path,
    table_path: Path,
) -> list[dict[str, Any]]:
    """Compare a run on multiplied data with the run on the original data; write JSON and
    Markdown if every check passes, else raise with the table."""
    rows = multiplied_checks(factor, base, run)
    return _report(analysis, f"{source} ×{factor}", rows, out, table_path)


def read_inputs(
    yields: Path,
    fit: Path | None,
    histograms: Path | None,
    truth: list[Path],
    options: dict[str, bool] | None = None,
) -> Inputs:
    def load(path: Path) -> Any:
        if not path.is_file():
            raise AtlasodError(f"{path} does not exist; run the workflow step that makes it")
        return json.loads(path.read_text("utf-8"))

    return Inputs(
        yields=load(yields),
        fit=load(fit) if fit else None,
        histograms_path=histograms,
        truth=[load(p) for p in truth] or None,
        options=options or {},
    )
