"""The expression language of declarative analyses: what it computes and what it refuses."""

import shutil
import subprocess
import sys
from pathlib import Path

import awkward as ak
import numpy as np
import pytest

from atlasod.data.catalogue import Catalogue
from atlasod.data.release import Release
from atlasod.errors import AtlasodError
from atlasod.selection.analysis import Analysis
from atlasod.selection.columns import Objects, from_awkward
from atlasod.selection.expressions import (
    ExpressionError,
    Kind,
    Origin,
    compile_expression,
    reference,
)

from .conftest import REPO

ORIGIN = Origin("analyses/x/analysis.yaml", 12, 11)
KNOWN = {"lep_pt", "lep_eta", "lep_phi", "lep_E", "met_et", "met_phi", "goodlep", "goodlep_pt"}
KNOWN |= {"jet_pt"}
UNITS = Release.load("2020").units  # MeV files: GeV is 1000


def value(text: str, env: dict):
    """The expression's value on columns made of the awkward arrays in ``env``, as a list."""
    columns = {k: from_awkward(ak.Array(v)) for k, v in env.items()}
    result = compile_expression(text, KNOWN, ORIGIN, units=UNITS)(columns)
    return result.to_awkward().tolist()


def test_per_object_and_per_event_arithmetic() -> None:
    env = {"lep_pt": [[30e3, 20e3], [50e3]], "lep_eta": [[0.1, 3.0], [-2.6]]}
    assert value("lep_pt > 25*GeV and abs(lep_eta) < 2.5", env) == [[True, False], [False]]
    assert value("count(lep_pt) == 1", env) == [False, True]
    assert value("lep_pt[1] / GeV", env) == [20.0, None]
    assert value("not lep_pt[1] > 25*GeV", env) == [True, None]
    assert value("1 < count(lep_pt) <= 2", env) == [True, False]
    assert value("sum(lep_pt) / GeV if count(lep_pt) > 1 else 0", env) == [50.0, 0.0]
    # the branch not taken may be missing (no second lepton), the one taken may not
    assert value("lep_pt[1] / GeV if count(lep_pt) > 1 else 0", env) == [20.0, 0.0]
    assert value("0 if count(lep_pt) > 1 else lep_pt[1]", env) == [0.0, None]
    assert value("lep_pt[1] if lep_pt[1] > 25*GeV else 1", env) == [1.0, None]
    # the last object, by an index per event
    assert value("lep_pt[count(lep_pt) - 1] / GeV", env) == [20.0, 50.0]
    # a number per event that depends only on the event: the same on every call
    ids = {"lep_pt": [1, 1, 2], "met_et": [7, 8, 7]}
    normal = value("event_normal(lep_pt, met_et, 3)", ids)
    assert normal == value("event_normal(lep_pt, met_et, 3)", ids)
    assert len(set(normal)) == 3 and normal != value("event_normal(lep_pt, met_et, 4)", ids)
    assert value("max(lep_pt) / GeV", {"lep_pt": [[30e3, 40e3], []]}) == [40.0, None]
    assert value("any(lep_pt > 35*GeV)", {"lep_pt": [[30e3, 40e3], []]}) == [True, False]
    assert value("all(lep_pt > 25*GeV)", {"lep_pt": [[30e3, 40e3], []]}) == [True, True]
    assert value("met_et - lep_pt", {"met_et": [1.0, 2.0], "lep_pt": [[0.5], [1, 2]]}) == [
        [0.5],
        [1.0, 0.0],
    ]


def test_pair_mass_and_transverse_mass_against_hand_calculation() -> None:
    # two massless back-to-back leptons of 45 GeV at η = 0: m = 90 GeV
    fields = {"pt": [[45.0, 45.0]], "eta": [[0.0, 0.0]], "phi": [[0.0, np.pi]], "E": [[45.0, 45.0]]}
    goodlep = Objects({k: from_awkward(ak.Array(v)) for k, v in fields.items()})
    mass = compile_expression("pair_mass(goodlep, 0, 1)", KNOWN, ORIGIN, units=UNITS)(
        {"goodlep": goodlep}
    )
    assert mass.content[0] == pytest.approx(90.0)
    env = {"lep_pt": [40.0], "lep_phi": [0.0], "met_et": [40.0], "met_phi": [np.pi]}
    assert value("mt(lep_pt, lep_phi, met_et, met_phi)", env)[0] == pytest.approx(80.0)


def _jets(fields: dict[str, list]) -> Objects:
    shape = from_awkward(ak.Array(fields["pt"])).shape
    return Objects({k: from_awkward(ak.Array(v), shape) for k, v in fields.items()})


def test_best_system_against_hand_calculation() -> None:
    # event 0: jets 0+1 (back to back, 40 GeV each) have pT 0, so the three-jet system of
    # largest pT is (0, 2, 3) or (1, 2, 3): both have pT 60 GeV at φ = 0, the first wins;
    # event 1: two jets only (no system of three); event 2: three jets, one system
    fields = {
        "pt": [[40.0, 40.0, 30.0, 30.0], [50.0, 20.0], [30.0, 30.0, 30.0]],
        "eta": [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0], [0.0, 0.0, 0.0]],
        "phi": [[0.0, np.pi, np.pi / 2, -np.pi / 2], [0.0, 1.0], [0.0, 2.1, -2.1]],
    }
    fields["E"] = fields["pt"]  # massless
    env = {"goodlep": _jets(fields)}
    top = compile_expression("best_system_mass(goodlep, 3)", KNOWN, ORIGIN, units=UNITS)(env)
    w = compile_expression("best_system_pair_mass(goodlep, 3)", KNOWN, ORIGIN, units=UNITS)(env)
    # (0, 2, 3): E = 100, p = (40, 0) -> m = sqrt(100² - 40²); pairs (0,2) and (0,3) both have
    # pT 50, (2,3) pT 0: the first, (0, 2), m² = 2·40·30 = 2400
    assert top.to_awkward().tolist()[:2] == [pytest.approx(np.sqrt(100**2 - 40**2)), None]
    assert w.to_awkward().tolist()[:2] == [pytest.approx(np.sqrt(2400.0)), None]
    assert top.to_awkward().tolist()[2] == pytest.approx(90.0, abs=0.2)


def test_min_delta_r_and_mass3_against_hand_calculation() -> None:
    # event 0: two objects, two others (ΔR 0.5 and 3 from the first; Δφ folded across ±π);
    # event 1: one object, no others (infinite); event 2: no objects, one other
    env = {
        "lep_eta": from_awkward(ak.Array([[0.0, 1.0], [0.2], []])),
        "lep_phi": from_awkward(ak.Array([[3.0, 0.0], [0.0], []])),
        "goodlep": _jets(
            {
                "pt": [[10.0, 10.0], [], [10.0]],
                "eta": [[0.0, -3.0], [], [0.0]],
                "phi": [[-2.783185307179586, 3.0], [], [0.0]],
                "E": [[10.0, 10.0], [], [10.0]],
            }
        ),
    }
    known = KNOWN | {"lep_eta", "lep_phi"}
    dr = compile_expression("min_delta_r(lep_eta, lep_phi, goodlep)", known, ORIGIN, units=UNITS)
    result = dr(env).to_awkward().tolist()
    assert result[0] == pytest.approx([0.5, np.hypot(1.0, 2.783185307179586)])
    assert result[1:] == [[np.inf], []]
    # three massless objects of 30 GeV at η = 0, 120° apart: E = 90 GeV, p = 0
    three = {"lep_pt": [30.0], "lep_eta": [0.0], "lep_phi": [0.0], "lep_E": [30.0]}
    m = value(
        "mass3(lep_pt, lep_eta, lep_phi, lep_E, lep_pt, lep_eta, lep_phi + 2*pi/3, lep_E,"
        " lep_pt, lep_eta, lep_phi - 2*pi/3, lep_E)",
        three,
    )
    assert m == [pytest.approx(90.0)]


def _top_candidates(p4: ak.Array) -> tuple[np.ndarray, np.ndarray]:
    """The tt̄ top and W candidates written another way (the 2020 tt̄ module's, before the
    analysis became configuration): awkward's combinations and vector's sums in (pT, η, φ,
    E), the first maximum winning."""
    import vector

    triplets = ak.combinations(p4, 3, fields=["a", "b", "c"])
    best = ak.argmax((triplets.a + triplets.b + triplets.c).pt, axis=1, keepdims=True)
    chosen = ak.firsts(triplets[best])
    a, b, c = chosen.a, chosen.b, chosen.c
    pairs = [a + b, a + c, b + c]
    pair_pt = np.stack([ak.to_numpy(x.pt) for x in pairs], axis=1)
    pair_mass = np.stack([ak.to_numpy(x.mass) for x in pairs], axis=1)
    choice = np.argmax(pair_pt, axis=1)
    top = ak.to_numpy((a + b + c).mass)
    assert isinstance(a, vector.backends.awkward.MomentumArray4D)
    return top, pair_mass[np.arange(len(choice)), choice]


def test_best_system_agrees_with_awkward_combinations_and_vector() -> None:
    """On random jets, the language's top and W candidates (Cartesian sums of taken
    components) are those of awkward's combinations and vector's sums, to rounding."""
    import vector

    rng = np.random.default_rng(7)
    counts = rng.integers(3, 9, 400)
    n = int(counts.sum())
    pt = rng.uniform(30, 200, n)
    eta = rng.uniform(-2.5, 2.5, n)
    phi = rng.uniform(-np.pi, np.pi, n)
    energy = pt * np.cosh(eta) * rng.uniform(1.0, 1.05, n)
    fields = {
        k: ak.unflatten(v, counts).tolist()
        for k, v in {"pt": pt, "eta": eta, "phi": phi, "E": energy}.items()
    }
    env = {"goodlep": _jets(fields)}
    top = compile_expression("best_system_mass(goodlep, 3)", KNOWN, ORIGIN, units=UNITS)(env)
    w = compile_expression("best_system_pair_mass(goodlep, 3)", KNOWN, ORIGIN, units=UNITS)(env)
    p4 = vector.zip(
        {
            k: ak.Array(v)
            for k, v in {
                "pt": fields["pt"],
                "eta": fields["eta"],
                "phi": fields["phi"],
                "energy": fields["E"],
            }.items()
        }
    )
    m_jjj, m_jj = _top_candidates(p4)
    assert top.content == pytest.approx(m_jjj, rel=1e-12)
    assert w.content == pytest.approx(m_jj, rel=1e-12)
    assert len(set(np.round(m_jjj, 6))) > 300  # 400 events, distinct candidates


def _leptons(pt, phi, flavour, charge) -> Objects:
    """Massless leptons at η = 0 (E = pT), per event lists of each field."""
    fields = {"pt": pt, "eta": [[0.0] * len(p) for p in pt], "phi": phi, "E": pt}
    return _jets({**fields, "type": flavour, "charge": charge})


PAIRS = KNOWN | {"goodlep_type", "goodlep_charge", "goodlep_phi"}


def pairs(text: str, env: dict) -> list:
    return compile_expression(text, PAIRS, ORIGIN, units=UNITS)(env).to_awkward().tolist()


def test_sfos_pair_against_hand_calculation() -> None:
    """Massless back-to-back leptons of pT a and b have m = 2 sqrt(ab); at 90° m² = 2ab."""
    env = {
        "goodlep": _leptons(
            # event 0: e+ e- (m 90) and a muon: the W lepton is object 2
            # event 1: mu+ mu- mu+: pairs (0,1) m = 2*sqrt(45*40) = 84.85, (1,2) m = 2*sqrt(40*50)
            #          = 89.44 (closer to 91.18): the pair (1, 2), the other object is 0
            # event 2: e+ e+ mu-: no pair of the same flavour and opposite charge
            # event 3: e- e+ only: a pair, no third object
            # event 4: mu- e+ e-: the pair (1, 2), the other is 0; pT of the pair 0 (back to back)
            pt=[
                [45.0, 45.0, 30.0],
                [45.0, 40.0, 50.0],
                [45.0, 45.0, 30.0],
                [45.0, 45.0],
                [20.0, 45.0, 45.0],
            ],
            phi=[
                [0.0, np.pi, 1.0],
                [0.0, np.pi, 0.0],
                [0.0, np.pi, 1.0],
                [0.0, np.pi],
                [1.0, 0.0, np.pi],
            ],
            flavour=[[11, 11, 13], [13, 13, 13], [11, 11, 13], [11, 11], [13, 11, 11]],
            charge=[[1, -1, 1], [1, -1, 1], [1, 1, -1], [-1, 1], [-1, 1, -1]],
        )
    }
    mass = pairs("sfos_pair_mass(goodlep, 91.18)", env)
    assert mass[0] == pytest.approx(90.0)
    assert mass[1] == pytest.approx(2 * np.sqrt(40 * 50))
    assert mass[2] is None
    assert mass[3] == pytest.approx(90.0)
    assert mass[4] == pytest.approx(90.0)
    assert pairs("sfos_pair_other(goodlep, 91.18)", env) == [2.0, 0.0, None, None, 0.0]
    pt = pairs("sfos_pair_pt(goodlep, 91.18)", env)
    assert pt[1] == pytest.approx(10.0) and pt[4] == pytest.approx(0.0, abs=1e-9)
    # the W lepton's values through an index per event
    env["goodlep_pt"] = env["goodlep"].pt
    w_pt = pairs("goodlep_pt[sfos_pair_other(goodlep, 91.18)]", env)
    assert w_pt == [30.0, 45.0, None, None, 20.0]
    # a per-event index that is not a whole number, negative or past the objects: missing
    index = {
        "goodlep_pt": env["goodlep"].pt,
        "met_et": from_awkward(ak.Array([0.5, -1.0, 3.0, 1.0, 0.0])),
    }
    assert pairs("goodlep_pt[met_et]", index) == [None, None, None, 45.0, 20.0]


def test_sfos_pair_other_among_four() -> None:
    """Four leptons: each position of the pair gives the first object outside it."""
    cases = {(0, 1): 2.0, (0, 2): 1.0, (0, 3): 1.0, (1, 2): 0.0, (1, 3): 0.0, (2, 3): 0.0}
    for (i, j), other in cases.items():
        flavour = [13, 13, 13, 13]
        flavour[i] = flavour[j] = 11
        charge = [1, 1, 1, 1]
        charge[j] = -1
        env = {
            "goodlep": _leptons(
                [[40.0, 41.0, 42.0, 43.0]], [[0.0, 1.0, 2.0, 3.0]], [flavour], [charge]
            )
        }
        assert pairs("sfos_pair_other(goodlep, 91.18)", env) == [other], (i, j)


def test_sfos_pair_needs_leptons() -> None:
    known = KNOWN | {"goodjet", "goodjet_pt", "goodjet_charge"}
    with pytest.raises(ExpressionError) as err:
        compile_expression("sfos_pair_mass(goodjet, 91.18*GeV)", known, ORIGIN, units=UNITS)
    assert str(err.value) == (
        "analyses/x/analysis.yaml:12:26: sfos_pair_mass() needs objects with a flavour and a "
        "charge (goodjet has no type): leptons, e.g. goodlep (at 'goodjet' in "
        "'sfos_pair_mass(goodjet, 91.18*GeV)')"
    )
    with pytest.raises(ExpressionError) as err:
        compile_expression("sfos_pair_mass(goodlep, met_et)", PAIRS, ORIGIN, units=UNITS)
    assert "sfos_pair_mass() takes the mass as a number, e.g. 91.18*GeV (at 'met_et'" in str(
        err.value
    )
    expr = compile_expression("sfos_pair_pt(goodlep, 91.18*GeV)", PAIRS, ORIGIN, units=UNITS)
    assert {"goodlep_type", "goodlep_charge"} <= expr.names  # read with the four-momenta


@pytest.mark.parametrize("k", ["1", "5", "2.0", "count(goodlep_pt)"])
def test_best_system_size_is_a_small_constant(k: str) -> None:
    with pytest.raises(ExpressionError) as err:
        compile_expression(f"best_system_mass(goodlep, {k})", KNOWN, ORIGIN, units=UNITS)
    assert "best_system_mass() takes the number of objects as a whole number from 2 to 4" in str(
        err.value
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("count(met_et)", "count() needs values per object (e.g. goodlep_pt), not per event"),
        ("lep_pt + goodlep_pt", "values of different collections (or of differently selected"),
    ],
)
def test_values_an_expression_cannot_be_computed_on_name_the_expression(
    text: str, message: str
) -> None:
    env = {"met_et": [1.0, 2.0], "lep_pt": [[1.0], [2.0, 3.0]], "goodlep_pt": [[1.0], [2.0]]}
    with pytest.raises(ExpressionError) as err:
        value(text, env)
    assert str(err.value).startswith(f"analyses/x/analysis.yaml:12:11: {message}")
    assert str(err.value).endswith(f"(in '{text}')")


KINDS = {"lep_pt": Kind("lep"), "lep_eta": Kind("lep"), "jet_pt": Kind("jet")}
KINDS |= {"goodlep": Kind("goodlep", handle=True), "goodlep_pt": Kind("goodlep")}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("met_et > 25*GeV", Kind()),
        ("lep_pt > 0.1 * met_et", Kind("lep")),  # an event's value against each object
        ("abs(lep_eta) < 2.5 and lep_pt > 25*GeV", Kind("lep")),
        ("count(goodlep_pt) + sum(jet_pt > 0)", Kind()),
        ("goodlep_pt[0] / GeV", Kind()),
        ("pair_mass(goodlep, 0, 1) if count(goodlep_pt) > 1 else 0", Kind()),
        ("2**10 + 3", Kind()),
    ],
)
def test_what_an_expression_gives_is_known_before_any_event(text: str, kind: Kind) -> None:
    assert compile_expression(text, KNOWN, ORIGIN, KINDS, UNITS).kind == kind


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max(met_et)", "max() needs values per object (e.g. goodlep_pt), not per event"),
        ("argmax(met_et)", "argmax() needs values per object (e.g. goodlep_pt), not per event"),
        (
            "closest_pair_mass(goodlep, met_et)",
            "closest_pair_mass() takes the mass as a number, e.g. 91.18*GeV",
        ),
        (
            "lep_pt + jet_pt",
            "values of different collections (or of differently selected "
            "objects: jet, lep) cannot be combined object by object (at 'lep_pt + jet_pt'",
        ),
        ("lep_pt > goodlep_pt", "objects: goodlep, lep) cannot be combined"),
        ("met_et[0]", "an index needs values per object (e.g. goodlep_pt[0]) (at 'met_et[0]'"),
        (
            "goodlep > 1",
            "the objects goodlep can only be given to pair_mass, system_mass, system_pt, "
            "system_phi, system_rapidity, best_system_mass, best_system_pair_mass, sfos_pair_mass, "
            "sfos_pair_pt, sfos_pair_other, closest_pair_mass, closest_pair_first, "
            "closest_pair_second or min_delta_r; use their values, e.g. goodlep_pt "
            "(at 'goodlep'",
        ),
        (
            "min_delta_r(met_et, met_phi, goodlep)",
            "min_delta_r() needs values per object (e.g. largeRjet_eta) (at 'min_delta_r(",
        ),
        (
            "min_delta_r(lep_pt, lep_pt, goodlep_pt)",
            "min_delta_r() takes objects (e.g. bjet) last (at 'min_delta_r(",
        ),
        ("system_mass(goodlep_pt)", "system_mass() takes objects (e.g. goodlep) first"),
        ("goodlep_pt[goodlep_pt]", "an index must be one value per event (a number, or e.g."),
        ("met_et > 10**10**10", "this constant is too large to compute (at '10**10**10'"),
        ("met_et > 1 / (2 - 2)", "this constant divides by zero (at '1 / (2 - 2)'"),
        ("met_et > 1e308 * 10", "this constant is not a finite number (at '1e308 * 10'"),
        ("met_et > (-8) ** 0.5", "this constant is not a finite number"),
        ("met_et > 2**1100", "this constant is too large to compute (at '2**1100'"),
        ("met_et > 1" + "0" * 400, "this constant is too large to compute"),
    ],
)
def test_what_could_only_fail_in_the_chunk_job_is_refused_when_checked(
    text: str, message: str
) -> None:
    with pytest.raises(ExpressionError) as err:
        compile_expression(text, KNOWN, ORIGIN, KINDS, UNITS)
    assert str(err.value).startswith("analyses/x/analysis.yaml:12:")
    assert message in str(err.value)


def test_constants_are_computed_once_with_the_values_of_python() -> None:
    env = {"met_et": [1.0, 2.0]}
    assert (
        value("met_et * 0 + 2**3 * 25*GeV - 7 % 4 + (-2) ** -1", env)
        == [2**3 * 25 * 1000.0 - 7 % 4 + (-2) ** -1] * 2
    )
    assert compile_expression("2**62 + 1", KNOWN, ORIGIN, units=UNITS)({}) == 2**62 + 1  # exact
    assert compile_expression("2**64", KNOWN, ORIGIN, units=UNITS)({}) == float(
        2**64
    )  # past 64 bits
    assert compile_expression("10**300", KNOWN, ORIGIN, units=UNITS)({}) == 1e300


def test_intermediate_results_written_in_place_give_the_right_values() -> None:
    """Operations may write into their inputs' buffers when those are results of other
    operations; a value used twice (Δφ inside delta_phi, a remembered pick) must survive."""
    env = {"lep_phi": [0.5, 3.0, -3.0], "met_phi": [1.0, -3.0, 2.0]}
    dphi = value("delta_phi(lep_phi * 1, met_phi * 1)", env)
    assert dphi == pytest.approx([0.5, 2 * np.pi - 6.0, 2 * np.pi - 5.0])
    env = {"lep_pt": [[3.0, 1.0], [5.0, 2.0]]}
    assert value("(lep_pt[0] * 2 + 1) * lep_pt[0] - lep_pt[0]", env) == [18.0, 50.0]
    assert value("sqrt(lep_pt[0] * lep_pt[1]) + lep_pt[1] * 1", env) == pytest.approx(
        [np.sqrt(3.0) + 1.0, np.sqrt(10.0) + 2.0]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lep_ptt > 3", "unknown name 'lep_ptt'; did you mean 'lep_pt'? (at 'lep_ptt'"),
        ("lep_pt.__class__", "attribute access ('.') is not allowed"),
        ("__import__('os')", "name '__import__' is not allowed (leading underscore)"),
        ("_x + 1", "name '_x' is not allowed (leading underscore)"),
        ("open('/etc/passwd')", "unknown function 'open'"),
        ("lambda: 1", "lambda is not allowed"),
        ("[x for x in lep_pt]", "comprehension is not allowed"),
        ("abs(x=lep_pt)", "keyword arguments are not allowed"),
        ("lep_pt[1:2]", "an index must be a whole number"),
        ("lep_pt[-1]", "an index must not be negative"),
        ("lep_pt[pi]", "an index must be a whole number"),
        ("count(lep_pt, lep_eta)", "count() takes 1 argument(s), not 2"),
        ("'text'", "constant 'text' is not a number"),
    ],
)
def test_unsafe_or_wrong_expressions_are_refused(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as err:
        compile_expression(text, KNOWN, ORIGIN, units=UNITS)
    assert str(err.value).startswith("analyses/x/analysis.yaml:12:")
    assert message in str(err.value)


def test_syntax_error_names_the_column() -> None:
    with pytest.raises(ExpressionError, match=r"analyses/x/analysis.yaml:12:\d+: syntax error"):
        compile_expression("lep_pt >", KNOWN, ORIGIN, units=UNITS)


def test_reference_lists_every_function() -> None:
    text = reference()
    for name in ("pair_mass", "system_mass", "mt", "delta_r", "count"):
        assert f"| `{name}` |" in text


def _analysis_with(tmp_path: Path, catalogue: Catalogue, old: str, new: str) -> Path:
    folder = tmp_path / "zz_test"
    shutil.copytree(REPO / "src" / "atlasod" / "templates" / "dilepton_resonance", folder)
    config = folder / "analysis.yaml"
    text = config.read_text().replace("name: dilepton_resonance", "name: zz_test")
    assert old in text
    config.write_text(text.replace(old, new))
    return folder


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '"count(goodlep_pt)"',
            '"count(goodlep_ptt)"',
            "unknown name 'goodlep_ptt'; did you mean 'goodlep_pt'?",
        ),
        ("lep_isTightID and", "lep_isTightId and", "unknown name 'lep_isTightId'"),
        ('"n_lep == 2"', '"n_lep.real == 2"', "attribute access ('.') is not allowed"),
        ('"trigE or trigM"', '"__import__(trigE)"', "name '__import__' is not allowed"),
        (
            '"goodlep_pt[1] / GeV"',
            '"goodlep_pt[1] / GeV + window"',
            "variable 'lep2_pt' uses an exercise (window); exercises can only be used in cuts",
        ),
        (  # it would fail only inside the chunk job
            '"trigE or trigM"',
            '"lep_pt > 26*GeV"',
            "cut 'trigger' gives one value per object, not per event: use any(...), all(...) "
            "or count(...) (in 'lep_pt > 26*GeV')",
        ),
        (  # Python's integers would compute it for ever, inside the chunk job
            '"trigE or trigM"',
            '"10**10**10 > 1"',
            "this constant is too large to compute (at '10**10**10' in '10**10**10 > 1')",
        ),
        (
            '"n_lep == 2"',
            '"count(met_et) == 2"',
            "count() needs values per object (e.g. goodlep_pt), not per event",
        ),
        (  # an object condition that does not look at the objects
            "lep_isTightID and lep_pt > 25*GeV and lep_ptcone30 / lep_pt < 0.15\n"
            "      and lep_etcone20 / lep_pt < 0.15 and abs(lep_eta) < 2.47",
            "met_et > 25*GeV",
            "the condition of object 'goodlep' must give one value per object of its "
            "collection lep (it gives one value per event) (in 'met_et > 25*GeV')",
        ),
    ],
)
def test_bad_template_fails_at_start_up_naming_file_and_line(
    tmp_path: Path, catalogue: Catalogue, old: str, new: str, message: str
) -> None:
    folder = _analysis_with(tmp_path, catalogue, old, new)
    config = folder / "analysis.yaml"
    line = next(i for i, t in enumerate(config.read_text().splitlines(), 1) if new.strip('"') in t)
    with pytest.raises(AtlasodError) as err:
        Analysis(folder, catalogue)
    assert str(err.value).startswith(f"{config}:{line}:")
    assert message in str(err.value)
    # the workflow refuses to start, with the same message
    proc = subprocess.run(
        [
            str(Path(sys.executable).parent / "snakemake"),
            "-n",
            "--config",
            "source=demo",
            f"analyses_dir={tmp_path}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode != 0
    assert f"{config}:{line}:" in proc.stderr + proc.stdout
    assert message in proc.stderr + proc.stdout


def test_docs_expression_reference_is_generated_from_the_code() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("update_docs", REPO / "tools" / "update_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.DOC.read_text()
    assert module.render(text) == text, "run python tools/update_docs.py"
    assert reference() in text


# Two more objects after the template's goodlep: good jets, and the b-tagged among them.
OBJECTS = """\
  goodjet:
    collection: jet
    where: "jet_pt > 30*GeV and abs(jet_eta) < 2.5"
  bjet:
    collection: goodjet
    where: "goodjet_MV2c10 > 0.8244273"
"""
FIRST_VARIABLE = 'variables:\n  n_lep: "count(goodlep_pt)"'


def test_an_object_chosen_among_other_objects(tmp_path: Path, catalogue: Catalogue) -> None:
    """`collection: goodjet`: the b-tagged good jets, the good-jet condition written once; a
    b-tagged jet that is not good (too soft, too forward) is not a bjet, and the fields the
    subset uses are read through its parent."""
    from .hand_made import Z_EE, lepton_event, run_events

    new = OBJECTS + FIRST_VARIABLE + '\n  n_bjet: "count(bjet_pt)"'
    folder = _analysis_with(tmp_path, catalogue, FIRST_VARIABLE, new)
    config = folder / "analysis.yaml"
    histograms = (
        "  - {name: bjet_pt, variable: bjet_pt, bins: 10, range: [0, 500000], xlabel: pT}\n"
        "  - {name: n_bjet, variable: n_bjet, bins: 4, range: [-0.5, 3.5], xlabel: n}\n"
    )
    config.write_text(config.read_text().replace("plot: {", histograms + "plot: {"))
    analysis = Analysis(folder, catalogue)
    assert {"jet_pt", "jet_eta", "jet_MV2c10"} <= set(analysis.selection.BRANCHES)

    def event(*jets: tuple[float, float, float]) -> dict:
        pt, eta, tag = (list(x) for x in zip(*jets, strict=True))
        mev = [p * 1000.0 for p in pt]
        phi = [0.5] * len(pt)
        jet = {"jet_pt": mev, "jet_eta": eta, "jet_phi": phi, "jet_E": mev, "jet_MV2c10": tag}
        return {**lepton_event(Z_EE), **jet}

    events = [  # (pT GeV, η, MV2c10): good and tagged / good, not tagged / tagged, too soft
        event((120.0, 0.1, 0.95), (80.0, 0.2, 0.1), (20.0, 0.3, 0.99)),
        event((60.0, 3.0, 0.95), (45.0, -1.0, 0.9)),  # tagged but forward / good and tagged
    ]
    result = run_events(analysis, catalogue, events, tmp_path)
    assert result.cutflow["same flavour"]["events"] == 2
    # 45 GeV (bin 0, 0-50 GeV) and 120 GeV (bin 2); not 20 (soft) nor 60 (forward)
    assert result.histograms["bjet_pt"].values().tolist() == [1, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    assert result.histograms["n_bjet"].values().tolist() == [0, 2, 0, 0]


def test_a_subset_condition_must_look_at_its_parent(tmp_path: Path, catalogue: Catalogue) -> None:
    """The condition of a subset is per object of its parent; a collection that is neither
    the release's nor an object above it is named, with what exists."""
    wrong = OBJECTS.replace("goodjet_MV2c10", "jet_MV2c10") + FIRST_VARIABLE
    folder = _analysis_with(tmp_path, catalogue, FIRST_VARIABLE, wrong)
    with pytest.raises(AtlasodError) as err:
        Analysis(folder, catalogue)
    assert (
        "the condition of object 'bjet' must give one value per object of its collection "
        "goodjet (it gives values of jet)"
    ) in str(err.value)
    typo = OBJECTS.replace("collection: goodjet", "collection: goodjets") + FIRST_VARIABLE
    folder = _analysis_with(tmp_path / "typo", catalogue, FIRST_VARIABLE, typo)
    with pytest.raises(AtlasodError) as err:
        Analysis(folder, catalogue)
    assert "object bjet: release 2020 has no collection 'goodjets'; its collections: " in str(
        err.value
    )
    assert str(err.value).endswith("(or an object defined above: goodlep, goodjet)")


def test_argmax_and_argmin_give_the_first_extremum_per_event() -> None:
    # event 0: a tie for the largest (the first wins), event 1: none, event 2: one, event 3:
    # a NaN among the values (no index: the extremum is undefined)
    env = {"lep_pt": [[1.0, 5.0, 5.0, 2.0], [], [7.0], [1.0, np.nan]]}
    assert value("argmax(lep_pt)", env) == [1.0, None, 0.0, None]
    assert value("argmin(lep_pt)", env) == [0.0, None, 0.0, None]
    # used as an index: the value of the largest, as max() gives it
    assert value("lep_pt[argmax(lep_pt)]", env)[:3] == [5.0, None, 7.0]


def test_closest_pair_of_any_objects_against_hand_calculation() -> None:
    """Massless back-to-back objects of pT a and b have m = 2 sqrt(ab): the pair closest to
    80.4 and its members' indices, whatever their flavour and charge."""
    env = {
        "goodlep": _jets(
            {
                # event 0: (0,1) at 90°: m² = 2·40·45, m = 60; (1,2) back to back:
                #          m = 2 sqrt(45·36) = 80.50; (0,2) at 90°: m = 53.67: the pair (1, 2)
                # event 1: one object (no pair); event 2: (0,1) m = 60 only
                "pt": [[40.0, 45.0, 36.0], [50.0], [30.0, 30.0]],
                "eta": [[0.0, 0.0, 0.0], [0.0], [0.0, 0.0]],
                "phi": [[np.pi / 2, 0.0, np.pi], [0.0], [0.0, np.pi]],
                "E": [[40.0, 45.0, 36.0], [50.0], [30.0, 30.0]],
            }
        )
    }
    mass = pairs("closest_pair_mass(goodlep, 80.4)", env)
    assert mass[0] == pytest.approx(2 * np.sqrt(45 * 36))
    assert mass[1] is None and mass[2] == pytest.approx(60.0)
    assert pairs("closest_pair_first(goodlep, 80.4)", env) == [1.0, None, 0.0]
    assert pairs("closest_pair_second(goodlep, 80.4)", env) == [2.0, None, 1.0]
    # the same objects with charges and flavours: sfos_pair_* still asks for a SFOS pair
    env["goodlep"].fields["type"] = from_awkward(ak.Array([[11, 13, 11], [11], [13, 13]]))
    env["goodlep"].fields["charge"] = from_awkward(ak.Array([[1, 1, -1], [1], [1, -1]]))
    assert pairs("sfos_pair_mass(goodlep, 80.4)", env)[0] == pytest.approx(np.sqrt(2 * 40 * 36))
    assert pairs("closest_pair_mass(goodlep, 80.4)", env)[0] == pytest.approx(mass[0])


def test_neutrino_pz_solves_the_w_mass_constraint() -> None:
    """Both roots give m(ℓ + ν) = m_W with the neutrino (E_T^miss, φ_miss, p_z); one of them
    is the neutrino's own p_z; no root where no p_z can reach m_W (m_T > m_W)."""
    import vector

    rng = np.random.default_rng(7)
    n = 200
    lep = vector.array(
        {
            "pt": rng.uniform(20, 120, n),
            "eta": rng.uniform(-2.5, 2.5, n),
            "phi": rng.uniform(-np.pi, np.pi, n),
            "mass": np.full(n, 0.10566),
        }
    )
    nu = vector.array(
        {
            "pt": rng.uniform(20, 120, n),
            "eta": rng.uniform(-3, 3, n),
            "phi": rng.uniform(-np.pi, np.pi, n),
            "mass": np.zeros(n),
        }
    )
    m_w = np.asarray((lep + nu).mass)
    env = {
        "lep_pt": np.asarray(lep.pt)[:, None].tolist(),
        "lep_eta": np.asarray(lep.eta)[:, None].tolist(),
        "lep_phi": np.asarray(lep.phi)[:, None].tolist(),
        "lep_E": np.asarray(lep.E)[:, None].tolist(),
        "met_et": np.asarray(nu.pt).tolist(),
        "met_phi": np.asarray(nu.phi).tolist(),
        "goodlep_pt": m_w.tolist(),  # (any name known: the W mass of each event)
    }
    roots = [
        np.array(
            value(
                f"neutrino_pz(lep_pt[0], lep_eta[0], lep_phi[0], lep_E[0], met_et, met_phi, "
                f"goodlep_pt, {sign})",
                env,
            ),
            dtype=float,
        )
        for sign in (1, -1)
    ]
    for pz in roots:
        solved = vector.array(
            {"px": np.asarray(nu.px), "py": np.asarray(nu.py), "pz": pz, "mass": np.zeros(n)}
        )
        assert np.asarray((lep + solved).mass) == pytest.approx(m_w, rel=1e-7)
    true_pz = np.asarray(nu.pz)
    closest = np.minimum(abs(roots[0] - true_pz), abs(roots[1] - true_pz))
    assert closest == pytest.approx(np.zeros(n), abs=1e-6 * (1 + abs(true_pz)).max())
    assert (roots[0] >= roots[1]).all()  # +1 is the root with +√Δ
    # a lepton and E_T^miss back to back, m_T = 2·50 = 100 > 80.4: no real solution
    far = {**env, "lep_phi": [[0.0]], "met_phi": [np.pi], "met_et": [50.0], "lep_pt": [[50.0]]}
    far |= {"lep_eta": [[0.3]], "lep_E": [[50.0 * np.cosh(0.3)]]}
    text = "neutrino_pz(lep_pt[0], lep_eta[0], lep_phi[0], lep_E[0], met_et, met_phi, 80.4, 1)"
    assert np.isnan(value(text, far)[0])
