"""The validate step: quantities, tolerances, and the table it fails with."""

import shutil
from pathlib import Path

import pytest

from atlasod.analysis import Analysis
from atlasod.catalogue import Catalogue
from atlasod.errors import AtlasodError
from atlasod.validation import Inputs, quantity, run_checks, validate_run

YIELDS = {
    "data": 100,
    "groups": {"ZZ": {"yield": 40.0}},
    "total_mc": {"yield": 95.0},
    "cutflow": {"Data": {"all": 832.0}},
}
FIT = {"parameters": {"mean": {"value": 124.0, "error": 0.5}}}
TRUTH = [
    {"selected": 60, "higgs_mass": 125.0},
    {"selected": 40, "higgs_mass": 125.0},
]


def inputs() -> Inputs:
    return Inputs(yields=YIELDS, fit=FIT, truth=TRUTH)


def test_quantities_read_yields_fit_and_truth(hzz: Analysis) -> None:
    assert quantity("yields.groups.ZZ.yield", inputs(), hzz) == 40.0
    assert quantity("fit.parameters.mean.error", inputs(), hzz) == 0.5
    assert quantity("truth.sum.selected", inputs(), hzz) == 100.0
    assert quantity("truth.value.higgs_mass", inputs(), hzz) == 125.0


def test_unknown_quantity_names_the_missing_key(hzz: Analysis) -> None:
    with pytest.raises(AtlasodError, match=r"quantity 'yields.groups.Higgs.yield': no key 'Higgs'"):
        quantity("yields.groups.Higgs.yield", inputs(), hzz)
    with pytest.raises(AtlasodError, match="the data files disagree"):
        quantity("truth.value.selected", inputs(), hzz)


def test_tolerances_abs_rel_and_sigma(hzz: Analysis) -> None:
    checks = [
        {"name": "exact", "quantity": "yields.data", "expected": "truth.sum.selected"},
        {
            "name": "rel",
            "quantity": "yields.total_mc.yield",
            "expected": 100,
            "tolerance": {"rel": 0.05},
        },
        {
            "name": "rel too tight",
            "quantity": "yields.total_mc.yield",
            "expected": 100,
            "tolerance": {"rel": 0.04},
        },
        {
            "name": "sigma",
            "quantity": "fit.parameters.mean.value",
            "expected": "truth.value.higgs_mass",
            "tolerance": {"sigma": 2, "error": "fit.parameters.mean.error"},
        },
        {
            "name": "sigma too tight",
            "quantity": "fit.parameters.mean.value",
            "expected": "truth.value.higgs_mass",
            "tolerance": {"sigma": 1.9, "error": "fit.parameters.mean.error"},
        },
    ]
    rows = run_checks(hzz, checks, inputs())
    assert [r["passed"] for r in rows] == [True, True, False, True, False]
    assert rows[3]["allowed"] == pytest.approx(1.0)


def _analysis_with(tmp_path: Path, hzz: Analysis, text: str, catalogue: Catalogue) -> Analysis:
    folder = tmp_path / "hzz"
    shutil.copytree(hzz.folder, folder)
    (folder / "validation.yaml").write_text(text, encoding="utf-8")
    return Analysis(folder, catalogue)


def test_failed_validation_raises_with_the_side_by_side_table(
    tmp_path: Path, hzz: Analysis, catalogue: Catalogue
) -> None:
    analysis = _analysis_with(
        tmp_path,
        hzz,
        "real:\n"
        "  - {name: data events read, quantity: yields.cutflow.Data.all, expected: 830,"
        " kind: exact, source: ref}\n",
        catalogue,
    )
    out, table = tmp_path / "v.json", tmp_path / "v.md"
    with pytest.raises(AtlasodError) as err:
        validate_run(analysis, "real", inputs(), out, table)
    message = str(err.value)
    assert message.startswith("validation of hzz (real) failed for: data events read\n")
    assert "| data events read | 832 | 830 | +2 | ±0 | exact | **FAILED** | ref |" in message
    assert not out.exists() and not table.exists()


def test_bad_validation_file_names_file_and_key(
    tmp_path: Path, hzz: Analysis, catalogue: Catalogue
) -> None:
    analysis = _analysis_with(
        tmp_path,
        hzz,
        "demo:\n  - {name: x, quantity: yields.data, expected: 1, tol: {}}\n",
        catalogue,
    )
    with pytest.raises(AtlasodError) as err:
        validate_run(analysis, "demo", inputs(), tmp_path / "v.json", tmp_path / "v.md")
    assert "validation.yaml: invalid value at 'demo.0'" in str(err.value)
    assert "'tol' was unexpected" in str(err.value)
