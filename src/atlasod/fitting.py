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

from atlasod.analysis import Analysis
from atlasod.errors import AtlasodError
from atlasod.histio import read_histograms, sum_histograms, values_and_variances, write_json

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
        raise AtlasodError(
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
        "valid": bool(m.valid),
        "chi2": chi2_sb,
        "ndf": int(ndf),
        "chi2_ndf": chi2_sb / ndf if ndf > 0 else float("nan"),
        "parameters": params,
        "signal_yield": {"value": float(yield_), "error": yield_err},
        "local_significance": math.sqrt(delta_chi2) if not m.fixed["amplitude"] else None,
        "range": [float(centres[0] - bin_width / 2), float(centres[-1] + bin_width / 2)],
        "bin_width": float(bin_width),
    }


def data_histogram(analysis: Analysis, histograms: dict[str, Any], name: str) -> Any:
    """Sum of the data periods' histograms ``name``."""
    parts = []
    for f in analysis.data_files:
        key = f"{f.stem}/{name}"
        if key not in histograms:
            raise AtlasodError(
                f"histogram {key} missing from the merged file; rerun the merge step"
            )
        parts.append(histograms[key])
    return sum_histograms(parts)


def fit_analysis(analysis: Analysis, histograms_path: Path, out: Path) -> dict[str, Any]:
    if analysis.fit is None:
        raise AtlasodError(f"{analysis.config_path} defines no fit")
    spec = analysis.fit
    h = data_histogram(analysis, read_histograms(histograms_path), spec["histogram"])
    counts, _ = values_and_variances(h, fold_overflow=False)
    edges = h.axes[0].edges
    centres = 0.5 * (edges[1:] + edges[:-1])
    lo, hi = spec["range"]
    sel = (centres > lo) & (centres < hi)
    result = fit_poly3_gauss(
        centres[sel],
        counts[sel],
        float(edges[1] - edges[0]),
        spec.get("start", {}),
        spec.get("fixed", {}),
    )
    result["histogram"] = spec["histogram"]
    result["data_events"] = float(counts[sel].sum())
    mean = result["parameters"]["mean"]
    LOG.info(
        "fit %s: m = %.2f ± %.2f GeV, σ = %.2f GeV, signal = %.0f ± %.0f, χ²/ndf = %.1f/%d",
        spec["histogram"],
        mean["value"],
        mean["error"],
        result["parameters"]["sigma"]["value"],
        result["signal_yield"]["value"],
        result["signal_yield"]["error"],
        result["chi2"],
        result["ndf"],
    )
    write_json(out, result)
    return result
