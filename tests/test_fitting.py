"""The H→γγ fit model on histograms with known content."""

import numpy as np
import pytest

from atlasod.results.fitting import background_polynomial, fit_poly3_gauss, model_curve

EDGES = np.linspace(105, 160, 31)
CENTRES = 0.5 * (EDGES[1:] + EDGES[:-1])
WIDTH = EDGES[1] - EDGES[0]
# background of the original's recorded fit on the full data (reference §10.4)
P = [9.43251e4, -1.77723e3, 1.15606e1, -2.56281e-2]


def expected(amplitude: float = 400.0, mean: float = 125.0, sigma: float = 2.4) -> np.ndarray:
    bkg = np.polynomial.Polynomial(P)(CENTRES)
    return bkg + amplitude * np.exp(-0.5 * ((CENTRES - mean) / sigma) ** 2)


def test_fit_of_exact_expectation_returns_its_parameters() -> None:
    result = fit_poly3_gauss(CENTRES, expected(), WIDTH, {"mean": 124.0, "sigma": 2.0}, {})
    p = result["parameters"]
    assert result["valid"]
    assert p["mean"]["value"] == pytest.approx(125.0, abs=1e-3)
    assert p["sigma"]["value"] == pytest.approx(2.4, abs=1e-3)
    assert p["amplitude"]["value"] == pytest.approx(400.0, rel=1e-3)
    # the centred polynomial is converted back to the original's powers of m
    bkg = background_polynomial(result)
    np.testing.assert_allclose(bkg(CENTRES), np.polynomial.Polynomial(P)(CENTRES), rtol=1e-4)
    assert result["chi2"] == pytest.approx(0.0, abs=1e-3)
    assert result["signal_yield"]["value"] == pytest.approx(
        400 * 2.4 * np.sqrt(2 * np.pi) / WIDTH, rel=1e-3
    )


def test_fixed_signal_as_in_the_original() -> None:
    counts = expected(amplitude=119.1, sigma=2.38)
    fixed = {"amplitude": 119.1, "mean": 125.0, "sigma": 2.38}
    result = fit_poly3_gauss(CENTRES, counts, WIDTH, {}, fixed)
    for name, value in fixed.items():
        assert result["parameters"][name] == {
            "value": value,
            "error": pytest.approx(0, abs=1e-9),
            "fixed": True,
        }
    assert result["ndf"] == 30 - 4
    full, _ = model_curve(result, CENTRES)
    np.testing.assert_allclose(full, counts, rtol=1e-4)
    assert result["local_significance"] is None


def test_poisson_data_recover_the_mass_within_uncertainty() -> None:
    rng = np.random.default_rng(5)
    counts = rng.poisson(expected(amplitude=300.0)).astype(float)
    result = fit_poly3_gauss(CENTRES, counts, WIDTH, {"mean": 125.0, "sigma": 2.4}, {})
    mean = result["parameters"]["mean"]
    assert abs(mean["value"] - 125.0) < 2 * mean["error"]
    assert 0.3 < result["chi2_ndf"] < 2.5


# --- Z: Breit-Wigner ⊗ Gauss; W and Z′: pyhf template fits ----------------------------------

Z_MASS, Z_WIDTH, RESOLUTION = 91.1876, 2.4952, 2.0


def test_breit_wigner_gauss_fit_recovers_mass_width_and_resolution() -> None:
    from atlasod.results.fitting import fit_breit_wigner_gauss

    rng = np.random.default_rng(5)
    n = 200_000
    peak = Z_MASS + 0.5 * Z_WIDTH * np.tan(np.pi * (rng.random(n) - 0.5))
    masses = np.concatenate([peak + rng.normal(0, RESOLUTION, n), rng.uniform(68, 114, 5000)])
    edges = np.linspace(68, 114, 31)
    counts, _ = np.histogram(masses, edges)
    result = fit_breit_wigner_gauss(edges, counts.astype(float), {"mean": 90.0}, {})
    p = result["parameters"]
    assert result["valid"]
    for name, truth in (("mean", Z_MASS), ("width", Z_WIDTH), ("sigma", RESOLUTION)):
        assert abs(p[name]["value"] - truth) < 3 * p[name]["error"], (name, p[name])
    assert p["mean"]["error"] < 0.02
    # the χ² of a correct model is of the order of its degrees of freedom
    assert result["chi2"] < 2.5 * result["ndf"]


def _samples(*pairs: tuple[str, np.ndarray]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {name: (values, values / 100.0) for name, values in pairs}


BKG = np.array([400.0, 300, 200, 120, 80])
SIG = np.array([5.0, 20, 60, 20, 5])


def test_mc_normalisation_fit_returns_the_scale_of_the_floating_group() -> None:
    from atlasod.results.statistics import template_fit

    result = template_fit(
        _samples(("W", BKG), ("other", SIG)), 1.2 * BKG + SIG, "W", "mc_normalisation"
    )
    norm = result["normalisation"]
    assert norm["value"] == pytest.approx(1.2, abs=1e-3)
    # ≈ √N / N of the W events, a little more for the MC statistics
    assert 0.9 * np.sqrt(1.2 * BKG.sum()) / BKG.sum() / 1.2 < norm["error"] / 1.2 < 0.1


def test_signal_fit_and_cls_limit_on_background_only_data() -> None:
    from atlasod.results.statistics import template_fit

    result = template_fit(_samples(("bkg", BKG), ("Zp", SIG)), BKG, "Zp", "signal_upper_limit")
    mu = result["signal_strength"]
    assert abs(mu["value"]) < 0.05
    limit = result["upper_limit"]
    # Asimov background-only data: the observed limit is the median expected one
    assert limit["observed"] == pytest.approx(limit["expected"][2], rel=0.02)
    assert limit["expected"][0] < limit["expected"][2] < limit["expected"][4]
    assert result["upper_limit_events"] == pytest.approx(limit["observed"] * SIG.sum())


def test_injected_signal_is_fitted_and_raises_the_limit() -> None:
    from atlasod.results.statistics import template_fit

    result = template_fit(
        _samples(("bkg", BKG), ("Zp", SIG)), BKG + 2.0 * SIG, "Zp", "signal_upper_limit"
    )
    assert result["signal_strength"]["value"] == pytest.approx(2.0, abs=0.01)
    assert result["upper_limit"]["observed"] > result["upper_limit"]["expected"][4]


def test_a_fit_that_cannot_converge_says_why() -> None:
    """Bins with data and no background (a demo whose backgrounds do not reach a signal
    tail): the fits at a small signal strength fail; a failed fit that names the cause, not
    pyhf's traceback (the plots and yields still appear, fit.json says why)."""
    from atlasod.errors import FitFailedError
    from atlasod.results.statistics import template_fit

    bkg = np.array([4000.0, 600, 80, 0, 0, 0, 0, 0])
    sig = np.array([9.0, 8, 8, 9, 8, 9, 10, 20])
    samples = {"bkg": (bkg, bkg / 50), "sig": (sig, sig / 100)}
    with pytest.raises(FitFailedError) as err:
        template_fit(samples, np.round(bkg + 3 * sig), "sig", "signal_upper_limit")
    assert str(err.value) == (
        "the signal_upper_limit fit of sig did not converge; 5 bins with data have no "
        "background prediction, where the fits at a small signal strength cannot describe "
        "the data: fit a histogram whose bins all have background MC"
    )


def test_window_significance_gives_the_h4l_notebook_numbers() -> None:
    """H→ZZ on 2025e: in 122.5-130 GeV, MC stack heights 12.699, 11.095, 4.935 of which the
    background is 10.3009 give the notebook's N_sig = 28.7291 and S = 4.4260 when N_sig
    counts the background (its quirk, behind hzz_significance_as_coded), and the Higgs alone
    (18.4282) by default; bins next to the window and the data do not enter N_s or N_b."""
    from atlasod.data.catalogue import Catalogue
    from atlasod.histio import empty_histogram
    from atlasod.results.fitting import fit_summary, range_mask
    from atlasod.results.statistics import window_significance
    from atlasod.selection.analysis import load_analysis

    from .conftest import ANALYSES

    analysis = load_analysis(ANALYSES, "hzz", Catalogue.load(release="2025e"))
    spec = analysis.fit
    assert spec is not None and spec["model"] == "window_significance"
    stack = np.array([12.699, 11.095, 4.935])
    background = np.array([5.0, 3.3009, 2.0])  # sums to 10.3009
    contents = {f.stem: np.zeros(68) for f in analysis.files}
    higgs, zz = analysis.group("Higgs").samples[0].stem, analysis.group("ZZ").samples[0].stem
    contents[higgs][17:20] = stack - background
    contents[zz][17:20] = background
    contents[higgs][[16, 20]] = 100.0  # 120-122.5 and 130-132.5 GeV: outside the window
    contents[zz][[16, 20]] = 100.0
    data = analysis.data_files[0].stem
    contents[data][17:20] = [7, 9, 3]
    histograms = {}
    for stem, values in contents.items():
        h = empty_histogram("m4l", 68, 80, 250, "")
        h.view().value[:] = values
        h.view().variance[:] = values / 10
        histograms[f"{stem}/mass_four_lep"] = h

    observed = contents[data]
    inside = range_mask(np.linspace(80, 250, 69), spec["range"])  # as the fit step selects
    assert np.flatnonzero(inside).tolist() == [17, 18, 19]
    as_coded = {"hzz_significance_as_coded": True}
    quirk = window_significance(analysis, histograms, spec, as_coded, observed, inside)
    assert quirk["n_signal"]["value"] == pytest.approx(28.7291, abs=2e-4)
    assert quirk["n_background"]["value"] == pytest.approx(10.3009, abs=1e-4)
    assert quirk["significance"] == pytest.approx(4.4260, abs=5e-5)
    default = window_significance(analysis, histograms, spec, {}, observed, inside)
    assert default["n_signal"]["value"] == pytest.approx(18.4282, abs=2e-4)
    alone = stack.sum() - background.sum()  # the stored bin heights are rounded
    assert default["significance"] == pytest.approx(alone / np.sqrt(10.3009 + 0.3 * 10.3009**2))
    assert default["n_signal_alone"] == quirk["n_signal_alone"]
    assert (default["data"], default["excess"]["value"]) == (19.0, pytest.approx(19 - 10.3009))
    assert default["excess"]["error"] == pytest.approx(np.sqrt(19 + 2.87291))
    assert "$N_s$ = 28.73 (incl. bkg.), $N_b$ = 10.30" in fit_summary(quirk)
