"""Fits of the analyses' characteristic distributions, with iminuit.

``poly3_gauss`` is the H → γγ model of the original: a third-order polynomial
background plus a Gaussian signal, χ² fit to the data histogram with Neyman
errors (√N, empty bins dropped), as ROOT's ``TH1::Fit`` does.  The polynomial is
fitted in a centred, scaled variable for numerical stability and reported in
the original's form ``p0 + p1 m + p2 m² + p3 m³`` (m in GeV).
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Any

import numpy as np
from iminuit import Minuit
from iminuit.cost import LeastSquares
from numpy.polynomial import Polynomial

from atlasod.data.catalogue import Catalogue
from atlasod.errors import AtlasodError, FitFailedError
from atlasod.histio import read_histograms, values_and_variances, write_json
from atlasod.results.merging import data_histogram
from atlasod.selection.analysis import Analysis

LOG = logging.getLogger(__name__)
SIGNAL = ("amplitude", "mean", "sigma")


def _gauss(x: np.ndarray, amplitude: float, mean: float, sigma: float) -> np.ndarray:
    return amplitude * np.exp(-0.5 * ((x - mean) / sigma) ** 2)


def background_polynomial(result: dict[str, Any]) -> Polynomial:
    """The fitted background ``p0 + p1 m + p2 m² + p3 m³`` (m in GeV)."""
    return Polynomial([result["parameters"][f"p{i}"]["value"] for i in range(4)])


def model_curve(result: dict[str, Any], x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(signal + background, background) of a fit result at ``x``, in events per bin."""
    bkg = background_polynomial(result)(x)
    p = {k: result["parameters"][k]["value"] for k in SIGNAL}
    return bkg + _gauss(x, **p), bkg


# Below this improvement of the chi2 by the Gaussian, the fit has found no peak (a flat or
# featureless histogram); a real peak, however weak, improves it by orders of magnitude more.
NO_PEAK_DELTA_CHI2 = 1e-6


def fit_poly3_gauss(
    centres: np.ndarray,
    counts: np.ndarray,
    bin_width: float,
    start: dict[str, float],
    fixed: dict[str, float],
) -> dict[str, Any]:
    """χ² fit of polynomial + Gaussian to ``counts`` (events per bin) at bin ``centres``."""
    use = counts > 0
    x, y, err = centres[use], counts[use], np.sqrt(counts[use])
    if len(x) < 8:
        raise FitFailedError(
            f"only {len(x)} non-empty bins in the fit range: too few for 7 parameters"
        )
    c, h = 0.5 * (x.min() + x.max()), 0.5 * (x.max() - x.min())

    def model(
        xv: np.ndarray,
        b0: float,
        b1: float,
        b2: float,
        b3: float,
        amplitude: float,
        mean: float,
        sigma: float,
    ) -> np.ndarray:
        t = (xv - c) / h
        return b0 + t * (b1 + t * (b2 + t * b3)) + _gauss(xv, amplitude, mean, sigma)

    cost = LeastSquares(x, y, err, model)
    b_start = np.polynomial.polynomial.polyfit((x - c) / h, y, 3, w=1 / err)
    mean0, sigma0 = start.get("mean", 125.0), start.get("sigma", 2.0)
    near = np.abs(x - mean0) < 2 * sigma0
    resid = y - Polynomial(b_start)((x - c) / h)
    amp0 = start.get("amplitude", float(max(resid[near].max(), 1.0)) if near.any() else 1.0)
    b_names = {f"b{i}": float(v) for i, v in enumerate(b_start)}
    m = Minuit(cost, **b_names, amplitude=amp0, mean=mean0, sigma=sigma0)
    m.limits["sigma"] = (0.1, 20.0)
    m.limits["mean"] = (x.min(), x.max())
    for name, value in fixed.items():
        if name not in SIGNAL:
            raise AtlasodError(f"fit.fixed: unknown parameter {name!r}; choose from {list(SIGNAL)}")
        m.values[name] = value
        m.fixed[name] = True
    m.migrad()
    m.hesse()
    chi2_sb = float(m.fval)
    ndf = len(x) - m.nfit

    # background-only fit for the local significance of the signal
    m0 = Minuit(
        cost,
        **{f"b{i}": m.values[i] for i in range(4)},
        amplitude=0.0,
        mean=m.values["mean"],
        sigma=m.values["sigma"],
    )
    for name in SIGNAL:
        m0.fixed[name] = True
    m0.migrad()
    delta_chi2 = max(float(m0.fval) - chi2_sb, 0.0)

    # convert the centred polynomial to powers of m, with its covariance
    jac = np.zeros((4, 4))  # d p_i / d b_j
    for j in range(4):
        unit = np.zeros(4)
        unit[j] = 1.0
        coef = Polynomial(unit)(Polynomial([-c / h, 1 / h])).coef
        jac[: len(coef), j] = coef
    b = np.array(m.values[:4])
    p = jac @ b
    cov_b = np.array(m.covariance)[:4, :4]
    cov_p = jac @ cov_b @ jac.T
    params: dict[str, dict[str, float | bool]] = {
        f"p{i}": {
            "value": float(p[i]),
            "error": float(math.sqrt(max(cov_p[i, i], 0.0))),
            "fixed": False,
        }
        for i in range(4)
    }
    for name in SIGNAL:
        params[name] = {
            "value": float(m.values[name]),
            "error": 0.0 if m.fixed[name] else float(m.errors[name]),
            "fixed": bool(m.fixed[name]),
        }
    amp, sig = m.values["amplitude"], m.values["sigma"]
    yield_ = amp * sig * math.sqrt(2 * math.pi) / bin_width
    cov = np.array(m.covariance)
    ia, isg = m.parameters.index("amplitude"), m.parameters.index("sigma")
    grad = np.zeros(len(m.parameters))
    grad[ia] = sig * math.sqrt(2 * math.pi) / bin_width
    grad[isg] = amp * math.sqrt(2 * math.pi) / bin_width
    yield_err = float(math.sqrt(max(grad @ cov @ grad, 0.0)))
    return {
        "model": "poly3_gauss",
        **_validity(m, ("mean", "sigma"), None if m.fixed["amplitude"] else delta_chi2),
        "chi2": chi2_sb,
        "ndf": int(ndf),
        "chi2_ndf": chi2_sb / ndf if ndf > 0 else float("nan"),
        "parameters": params,
        "signal_yield": {"value": float(yield_), "error": yield_err},
        "local_significance": math.sqrt(delta_chi2) if not m.fixed["amplitude"] else None,
        "range": [float(centres[0] - bin_width / 2), float(centres[-1] + bin_width / 2)],
        "bin_width": float(bin_width),
    }


def _peak_at_limit(m: Minuit, names: tuple[str, ...]) -> list[str]:
    """Free parameters of the peak that ended at a limit of their range: no peak was found
    (a flat or featureless histogram), whatever Minuit says of its convergence."""
    stuck = []
    for p in m.params:
        if p.name not in names or p.is_fixed or not p.has_limits:
            continue
        lo, hi = p.lower_limit, p.upper_limit
        span = hi - lo if math.isfinite(lo) and math.isfinite(hi) else max(1.0, abs(lo), abs(hi))
        near = 1e-3 * span
        if (p.has_lower_limit and p.value - lo <= near) or (
            p.has_upper_limit and hi - p.value <= near
        ):
            stuck.append(p.name)
    return stuck


def _validity(m: Minuit, peak: tuple[str, ...], delta_chi2: float | None = None) -> dict[str, Any]:
    """``valid`` of a peak fit, and its ``problem`` when it is not: a peak that does not
    improve the chi2 over the background alone (``delta_chi2``, where the fit has that
    comparison), no peak parameter at a limit, and Minuit's verdict."""
    if delta_chi2 is not None and delta_chi2 < NO_PEAK_DELTA_CHI2:
        # such a peak's mean and width are undetermined: they end wherever the minimiser
        # left them (machine-dependent), at a limit or not
        problem = "no peak found: the Gaussian does not improve the fit (local significance 0)"
        return {"valid": False, "problem": problem}
    stuck = _peak_at_limit(m, peak)
    if stuck:
        problem = f"no peak found: {', '.join(stuck)} at the limit of the allowed range"
        return {"valid": False, "problem": problem}
    if not m.valid:
        return {
            "valid": False,
            "problem": "the minimiser did not converge (Minuit: invalid minimum)",
        }
    return {"valid": True}


def fit_breit_wigner_gauss(
    edges: np.ndarray, counts: np.ndarray, start: dict[str, float], fixed: dict[str, float]
) -> dict[str, Any]:
    """Binned extended likelihood fit of a Breit-Wigner ⊗ Gaussian (Voigt) peak over a
    linear background: the Z mass, its width and the detector resolution."""
    from iminuit.cost import ExtendedBinnedNLL
    from scipy.special import voigt_profile

    lo, hi = float(edges[0]), float(edges[-1])
    c, h = 0.5 * (lo + hi), 0.5 * (hi - lo)
    total = float(counts.sum())
    if total < 50:
        raise FitFailedError(f"only {total:.0f} events in the fit range {lo}-{hi}: too few to fit")

    fine = np.linspace(lo, hi, 32 * (len(edges) - 1) + 1)  # 32 Simpson intervals per bin
    at_edges = np.searchsorted(fine, edges)

    def scaled_cdf(
        xe: np.ndarray,
        n_signal: float,
        mean: float,
        width: float,
        sigma: float,
        n_background: float,
        slope: float,
    ) -> np.ndarray:
        """Expected events below each bin edge: the density integrated on a fine grid."""
        del xe  # always the fit's edges
        peak = n_signal * voigt_profile(fine - mean, sigma, 0.5 * width)
        density = peak + n_background / (hi - lo) * (1 + slope * (fine - c) / h)
        step = fine[1] - fine[0]
        pairs = density[:-2:2] + 4 * density[1:-1:2] + density[2::2]
        cumulative = np.concatenate([[0.0], np.cumsum(pairs) * step / 3])
        return cumulative[at_edges // 2]

    cost = ExtendedBinnedNLL(counts, edges, scaled_cdf)
    m = Minuit(
        cost,
        n_signal=0.9 * total,
        mean=start.get("mean", 0.5 * (lo + hi)),
        width=start.get("width", 2.5),
        sigma=start.get("sigma", 2.0),
        n_background=0.1 * total,
        slope=0.0,
    )
    m.limits["n_signal"] = (0, None)
    m.limits["n_background"] = (0, None)
    m.limits["mean"] = (lo, hi)
    m.limits["width"] = (0.01, 0.5 * (hi - lo))
    m.limits["sigma"] = (0.01, 0.5 * (hi - lo))
    m.limits["slope"] = (-1, 1)
    for name, value in fixed.items():
        if name not in m.parameters:
            raise AtlasodError(f"fit.fixed: unknown parameter {name!r}; choose from {m.parameters}")
        m.values[name] = value
        m.fixed[name] = True
    m.migrad()
    m.hesse()
    in_window = float(
        np.trapezoid(
            voigt_profile(fine - m.values["mean"], m.values["sigma"], 0.5 * m.values["width"]), fine
        )
    )
    params = {
        name: {
            "value": float(m.values[name]),
            "error": 0.0 if m.fixed[name] else float(m.errors[name]),
            "fixed": bool(m.fixed[name]),
        }
        for name in m.parameters
    }
    ndf = int(np.count_nonzero(counts > 0) - m.nfit)
    return {
        "model": "breit_wigner_gauss",
        **_validity(m, ("mean", "width", "sigma")),
        "chi2": float(m.fval),
        "ndf": ndf,
        "chi2_ndf": float(m.fval) / ndf if ndf > 0 else float("nan"),
        "parameters": params,
        "signal_yield": {
            "value": float(m.values["n_signal"]) * in_window,
            "error": float(m.errors["n_signal"]) * in_window,
        },
        "range": [lo, hi],
        "bin_width": float(edges[1] - edges[0]),
    }


def breit_wigner_gauss_curve(
    result: dict[str, Any], x: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(signal + background, background) of a Voigt fit at ``x``, in events per bin."""
    from scipy.special import voigt_profile

    p = {k: v["value"] for k, v in result["parameters"].items()}
    lo, hi = result["range"]
    c, h, w = 0.5 * (lo + hi), 0.5 * (hi - lo), result["bin_width"]
    bkg = p["n_background"] / (hi - lo) * (1 + p["slope"] * (x - c) / h) * w
    peak = p["n_signal"] * voigt_profile(x - p["mean"], p["sigma"], 0.5 * p["width"]) * w
    return peak + bkg, bkg


def fit_curve(result: dict[str, Any], x: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(signal + background, background) of a peak fit, events per bin; None for others."""
    if result.get("model") == "poly3_gauss":
        return model_curve(result, x)
    if result.get("model") == "breit_wigner_gauss":
        return breit_wigner_gauss_curve(result, x)
    return None


def fit_summary(result: dict[str, Any]) -> str:
    """Lines of text that state a fit result on its plot."""
    model = result.get("model")
    if model in ("poly3_gauss", "breit_wigner_gauss"):
        p = result["parameters"]

        def value(name: str) -> str:  # a fixed parameter has no error: it is said so
            v = p[name]
            if v.get("fixed"):
                return f"{v['value']:.2f} GeV (fixed)"
            return f"{v['value']:.2f} ± {v['error']:.2f} GeV"

        lines = [f"$m$ = {value('mean')}"]
        if model == "breit_wigner_gauss":
            lines.append(f"$\\Gamma$ = {value('width')}")
        lines.append(f"$\\sigma$ = {value('sigma')}")
        n_sig = result["signal_yield"]
        lines.append(f"$N_{{sig}}$ = {n_sig['value']:.0f} ± {n_sig['error']:.0f}")
        lines.append(f"$\\chi^2$/ndf = {result['chi2']:.1f}/{result['ndf']}")
        return "\n".join(lines)
    if model == "mc_normalisation":
        n = result["normalisation"]
        return f"{result['group']} norm. = {n['value']:.3f} ± {n['error']:.3f}"
    if model == "window_significance":
        low, high = result["range"]
        with_b = " (incl. bkg.)" if result["signal_includes_background"] else ""
        return (
            f"{low:g}-{high:g} GeV: $N_s$ = {result['n_signal']['value']:.2f}{with_b}, "
            f"$N_b$ = {result['n_background']['value']:.2f}\n"
            f"$Z = N_s/\\sqrt{{N_b + {result['background_relative_variance']:g} N_b^2}}$"
            f" = {result['significance']:.2f}"
        )
    if model == "signal_upper_limit":
        mu, lim = result["signal_strength"], result["upper_limit"]
        return (
            f"$\\hat\\mu$ = {mu['value']:.2f} ± {mu['error']:.2f}\n"
            f"$\\mu$ < {lim['observed']:.2f} ({100 * result['cl']:.0f}% CL$_s$; "
            f"exp. {lim['expected'][2]:.2f})"
        )
    return ""


def range_mask(edges: np.ndarray, fit_range: list[float] | None) -> np.ndarray:
    """The bins (of these edges) whose centres lie inside ``fit_range``: all when None."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    if fit_range is None:
        return np.ones(len(centres), dtype=bool)
    lo, hi = fit_range
    return (centres > lo) & (centres < hi)


def fit_analysis(
    analysis: Analysis,
    histograms_path: Path,
    out: Path,
    options: dict[str, bool] | None = None,
    catalogue: Catalogue | None = None,
) -> dict[str, Any]:
    if analysis.fit is None:
        raise AtlasodError(f"{analysis.config_path} defines no fit")
    spec = analysis.fit
    model = spec["model"]
    histograms = read_histograms(histograms_path)
    h = data_histogram(analysis, histograms, spec["histogram"])
    counts, _ = values_and_variances(h, fold_overflow=False)
    edges = h.axes[0].edges
    sel = range_mask(edges, spec.get("range"))
    try:
        result = _fit_model(analysis, histograms, spec, counts, edges, sel, options, catalogue)
    except FitFailedError as exc:
        # the plots and yields still appear; the result says why there is no fit
        LOG.warning("fit %s (%s) failed: %s", spec["histogram"], model, exc)
        result = {"model": model, "valid": False, "failed": str(exc)}
    result["histogram"] = spec["histogram"]
    result["data_events"] = float(counts[sel].sum())
    if "failed" not in result:
        summary = fit_summary(result).replace("\n", "; ")
        LOG.info("fit %s (%s): %s", spec["histogram"], model, summary)
        if not result.get("valid", True):
            LOG.warning("fit %s (%s) did not converge: %s", spec["histogram"], model, summary)
    write_json(out, result)
    return result


def _fit_model(
    analysis: Analysis,
    histograms: dict[str, Any],
    spec: dict[str, Any],
    counts: np.ndarray,
    edges: np.ndarray,
    sel: np.ndarray,
    options: dict[str, bool] | None,
    catalogue: Catalogue | None,
) -> dict[str, Any]:
    model = spec["model"]
    if model in ("mc_normalisation", "signal_upper_limit"):
        from atlasod.results.statistics import fit_template

        result = fit_template(analysis, histograms, spec, options or {}, catalogue)
    elif model == "window_significance":
        from atlasod.results.statistics import window_significance

        result = window_significance(analysis, histograms, spec, options or {}, counts, sel)
    elif model == "breit_wigner_gauss":
        idx = np.flatnonzero(sel)
        sub_edges = edges[idx[0] : idx[-1] + 2]
        result = fit_breit_wigner_gauss(
            sub_edges, counts[sel], spec.get("start", {}), spec.get("fixed", {})
        )
    else:
        centres = 0.5 * (edges[1:] + edges[:-1])
        result = fit_poly3_gauss(
            centres[sel],
            counts[sel],
            float(edges[1] - edges[0]),
            spec.get("start", {}),
            spec.get("fixed", {}),
        )
    return result
