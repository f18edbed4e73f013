"""The H→γγ fit model on histograms with known content."""

import numpy as np
import pytest

from atlasod.fitting import background_polynomial, fit_poly3_gauss, model_curve

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
