"""Template fits with a pyhf statistical model: one channel, the analysis' MC groups as
samples, their statistical uncertainty as ``staterror`` (Barlow-Beeston lite).

- ``mc_normalisation``: the normalisation of one group floats (W+jets in the W analysis),
  the others are fixed: the result is the data-to-MC normalisation of that group.
- ``signal_upper_limit``: a signal group (the Z′) scaled by the signal strength μ over the
  stacked backgrounds: the fitted μ̂ and the CLs upper limit on μ (observed and expected),
  also as numbers of signal events and as a cross section.

And a count without a fit, ``window_significance``: the signal group's and the other stacked
groups' MC in a mass window, N_s and N_b, and Z = N_s / sqrt(N_b + k N_b²) (the 2025 H→ZZ
notebook's figure of merit, k = 0.3 there), with the data's excess over N_b beside them.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from atlasod.data.catalogue import Catalogue
from atlasod.errors import AtlasodError, FitFailedError
from atlasod.histio import summed, values_and_variances
from atlasod.results.merging import data_histogram
from atlasod.selection.analysis import Analysis, Group

LOG = logging.getLogger(__name__)
POI = "mu"


def _group_histogram(
    group: Group, histograms: dict[str, Any], name: str, factor: float
) -> tuple[np.ndarray, np.ndarray]:
    h = summed(histograms, [s.stem for s in group.samples], name)
    values, variances = values_and_variances(h, fold_overflow=True)
    return values * factor, variances * factor**2


def _data(analysis: Analysis, histograms: dict[str, Any], name: str) -> np.ndarray:
    values, _ = values_and_variances(data_histogram(analysis, histograms, name), True)
    return values


def build_spec(
    samples: dict[str, tuple[np.ndarray, np.ndarray]],
    floating: str,
    poi_bounds: tuple[float, float],
) -> dict[str, Any]:
    """pyhf workspace-free model spec: one channel, ``floating`` scaled by the POI ``mu``."""
    out = []
    for name, (values, variances) in samples.items():
        modifiers: list[dict[str, Any]] = [
            {"name": "mc_stat", "type": "staterror", "data": np.sqrt(variances).tolist()}
        ]
        if name == floating:
            modifiers.append({"name": POI, "type": "normfactor", "data": None})
        out.append({"name": name, "data": values.tolist(), "modifiers": modifiers})
    return {
        "channels": [{"name": "main", "samples": out}],
        "parameters": [{"name": POI, "bounds": [list(poi_bounds)], "inits": [1.0]}],
    }


def _model_inputs(
    analysis: Analysis, histograms: dict[str, Any], spec: dict[str, Any], options: dict[str, bool]
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], np.ndarray, Group]:
    name = spec["histogram"]
    floating = analysis.group(spec["group"])
    groups = [g for g in analysis.groups if g.stacked or g is floating]
    samples = {
        g.name: _group_histogram(g, histograms, name, g.factor(options, name)) for g in groups
    }
    observed = _data(analysis, histograms, name)
    total = np.sum([v for v, _ in samples.values()], axis=0)
    keep = total > 0
    dropped = int(np.count_nonzero(~keep & (observed > 0)))
    if dropped:
        LOG.warning(
            "%s: %d bins with data but no MC prediction are left out of the fit", name, dropped
        )
    samples = {k: (np.clip(v[keep], 0, None), var[keep]) for k, (v, var) in samples.items()}
    if not np.any(keep):
        raise FitFailedError(f"histogram {name}: no bin has an MC prediction; nothing to fit")
    return samples, observed[keep], floating


def template_fit(
    samples: dict[str, tuple[np.ndarray, np.ndarray]],
    observed: np.ndarray,
    floating: str,
    kind: str,
    cl: float = 0.95,
) -> dict[str, Any]:
    """Fit ``observed`` counts with the MC ``samples`` ((values, variances) per bin), the
    normalisation of ``floating`` free; ``kind`` is ``mc_normalisation`` or
    ``signal_upper_limit`` (then also the CLs upper limit on it at ``cl``).  A minimisation
    that fails is a :class:`FitFailedError` that says where the model is weak."""
    import pyhf

    try:
        return _template_fit(samples, observed, floating, kind, cl)
    except pyhf.exceptions.FailedMinimization as exc:
        background = np.sum([v for k, (v, _) in samples.items() if k != floating], axis=0)
        empty = int(np.count_nonzero((background <= 0) & (observed > 0)))
        hint = (
            f"; {empty} bins with data have no background prediction, where the fits at a "
            "small signal strength cannot describe the data: fit a histogram whose bins all "
            "have background MC"
            if empty
            else ""
        )
        raise FitFailedError(f"the {kind} fit of {floating} did not converge{hint}") from exc


def _template_fit(
    samples: dict[str, tuple[np.ndarray, np.ndarray]],
    observed: np.ndarray,
    floating: str,
    kind: str,
    cl: float,
) -> dict[str, Any]:
    import pyhf

    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0))
    s = float(samples[floating][0].sum())
    b = float(sum(v.sum() for k, (v, _) in samples.items() if k != floating))
    if s <= 0:
        raise FitFailedError(f"group {floating} predicts no events in the fitted histogram")
    upper = max(10.0, 10.0 * (float(observed.sum()) + 5 * math.sqrt(b + 1)) / s)
    model = pyhf.Model(build_spec(samples, floating, (0.0, upper)), poi_name=POI)
    data = [float(x) for x in observed] + model.config.auxdata
    best, twice_nll = pyhf.infer.mle.fit(
        data, model, return_uncertainties=True, return_fitted_val=True
    )
    mu, mu_err = (float(x) for x in best[model.config.poi_index])
    result: dict[str, Any] = {
        "model": kind,
        "group": floating,
        "valid": True,
        "twice_nll": float(twice_nll),
        "bins": len(observed),
        "data": float(observed.sum()),
        "prediction": {k: float(v.sum()) for k, (v, _) in samples.items()},
    }
    if kind == "mc_normalisation":
        result["normalisation"] = {"value": mu, "error": mu_err}
        result["data_over_mc_before_fit"] = float(observed.sum()) / (s + b)
        LOG.info("%s normalisation: %.4f ± %.4f", floating, mu, mu_err)
        return result
    # The CLs scan runs ~50 hypothesis tests of several fits each: Minuit's strategy 0 (no
    # Hessian updates inside migrad; what pyhf uses when it has gradients) takes 20 s where
    # the default takes 29 s on the Z' demo fit (21 parameters), limits equal to 3e-5.
    pyhf.set_backend("numpy", pyhf.optimize.minuit_optimizer(verbose=0, strategy=0))
    observed_limit, expected = pyhf.infer.intervals.upper_limits.upper_limit(
        data, model, scan=None, level=1 - cl
    )
    result.update(
        {
            "cl": cl,
            "signal_strength": {"value": mu, "error": mu_err},
            "signal_events": {"value": mu * s, "error": mu_err * s, "predicted": s},
            "upper_limit": {
                "observed": float(observed_limit),
                "expected": [float(x) for x in expected],
            },
            "upper_limit_events": float(observed_limit) * s,
        }
    )
    LOG.info(
        "signal strength %.3f ± %.3f; μ < %.3f at %.0f%% CL", mu, mu_err, observed_limit, 100 * cl
    )
    return result


def fit_template(
    analysis: Analysis,
    histograms: dict[str, Any],
    spec: dict[str, Any],
    options: dict[str, bool],
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    """The analysis' template fit (its ``fit`` block) on the merged histograms."""
    samples, observed, floating = _model_inputs(analysis, histograms, spec, options)
    result = template_fit(
        samples, observed, floating.name, spec["model"], float(spec.get("cl", 0.95))
    )
    sigma_pb = _signal_cross_section(floating, catalogue or Catalogue.load())
    if spec["model"] == "signal_upper_limit" and sigma_pb is not None:
        result["signal_xsec_pb"] = sigma_pb
        result["upper_limit_xsec_pb"] = result["upper_limit"]["observed"] * sigma_pb
    return result


def _signal_cross_section(group: Group, catalogue: Catalogue) -> float | None:
    """Cross section (pb) of a one-sample signal group, for the limit in pb."""
    if len(group.samples) != 1 or group.samples[0].dsid is None:
        return None
    try:
        return catalogue.normalisation(group.samples[0].dsid).xsec_pb
    except AtlasodError:
        return None


def window_significance(
    analysis: Analysis,
    histograms: dict[str, Any],
    spec: dict[str, Any],
    options: dict[str, bool],
    observed: np.ndarray,
    inside: np.ndarray,
) -> dict[str, Any]:
    """N_s, N_b and Z = N_s / sqrt(N_b + k N_b²) in the bins ``inside`` (those of the window
    ``spec["range"]``, as the fit step selects them) of the histogram ``spec["histogram"]``,
    with the groups' factors, and the data ``observed`` there; k is
    ``background_relative_variance``.  When the switch named by
    ``signal_includes_background_option`` is on, N_s is the stacked height of signal and
    background, as the 2025 H→ZZ notebook computes it (reference 2025e §6.2)."""
    name, (low, high) = spec["histogram"], spec["range"]
    signal = analysis.group(spec["group"])
    k = float(spec.get("background_relative_variance", 0.0))
    if not np.any(inside):
        raise AtlasodError(f"fit.range [{low}, {high}]: no bin of histogram {name} lies inside")
    s = s_var = b = b_var = 0.0
    for g in analysis.groups:
        if g.stacked or g is signal:
            values, variances = _group_histogram(g, histograms, name, g.factor(options, name))
            if g is signal:
                s, s_var = float(values[inside].sum()), float(variances[inside].sum())
            else:
                b += float(values[inside].sum())
                b_var += float(variances[inside].sum())
    if b <= 0:
        raise FitFailedError(f"no background MC in {low}-{high} of {name}: Z is undefined")
    n_data = float(observed[inside].sum())
    option = spec.get("signal_includes_background_option")
    with_background = bool(option and options.get(option, False))
    counted, counted_var = (s + b, s_var + b_var) if with_background else (s, s_var)
    z = counted / math.sqrt(b + k * b * b)
    LOG.info(
        "%s in %g-%g: N_s = %.4f%s, N_b = %.4f, Z = %.4f; data %d",
        name,
        low,
        high,
        counted,
        " (with the background)" if with_background else "",
        b,
        z,
        n_data,
    )
    return {
        "model": "window_significance",
        "group": signal.name,
        "valid": True,
        "range": [low, high],
        "bins": int(np.count_nonzero(inside)),
        "background_relative_variance": k,
        "signal_includes_background": with_background,
        "n_signal": {"value": counted, "stat": math.sqrt(counted_var)},
        "n_signal_alone": {"value": s, "stat": math.sqrt(s_var)},
        "n_background": {"value": b, "stat": math.sqrt(b_var)},
        "significance": z,
        "data": n_data,
        # data - N_b against the signal alone: the error of that difference
        "excess": {"value": n_data - b, "error": math.sqrt(n_data + b_var + s_var)},
    }
