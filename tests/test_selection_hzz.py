"""The H→ZZ→4ℓ selection on hand-made events (reference §9.3)."""

import awkward as ak
import numpy as np
import pytest
import vector

from atlasod.selection.analysis import Analysis


def lepton(pt, eta, phi, charge, flavour, **extra):
    p = vector.obj(pt=pt, eta=eta, phi=phi, mass=0.0)
    rec = {
        "pt": pt * 1000.0,
        "eta": eta,
        "phi": phi,
        "E": p.E * 1000.0,
        "charge": charge,
        "type": flavour,
        "ptcone30": 0.0,
        "etcone20": 0.0,
        "trackd0pvunbiased": 0.001,
        "tracksigd0pvunbiased": 0.01,
        "z0": 0.0,
    }
    rec.update(extra)
    return rec


def event(leptons, trig=True, jets=()):
    out = {"trigE": trig, "trigM": trig}
    for key in leptons[0]:
        out[f"lep_{key}"] = [lep[key] for lep in leptons]
    out["jet_pt"] = [j * 1000.0 for j in jets]
    out["jet_eta"] = [0.0 for _ in jets]
    return out


def four_e(charges=(1, -1, 1, -1), **extra):
    kin = [(50, 0.1, 0.0), (40, -0.5, 2.0), (30, 1.0, -2.0), (20, -1.2, 1.0)]
    return [
        lepton(pt, eta, phi, q, 11, **extra) for (pt, eta, phi), q in zip(kin, charges, strict=True)
    ]


def run(hzz: Analysis, events, pairing="last_valid"):
    return hzz.selection.select_events(ak.Array(events), {"pairing": pairing})


def test_four_electrons_pass_and_give_the_four_lepton_mass(hzz: Analysis) -> None:
    leps = four_e()
    sel = run(hzz, [event(leps)])
    assert sel.mask.tolist() == [True]
    total = sum(
        (
            vector.obj(pt=lep["pt"] / 1e3, eta=lep["eta"], phi=lep["phi"], E=lep["E"] / 1e3)
            for lep in leps[1:]
        ),
        vector.obj(
            pt=leps[0]["pt"] / 1e3, eta=leps[0]["eta"], phi=leps[0]["phi"], E=leps[0]["E"] / 1e3
        ),
    )
    assert sel.variables["m4l"][0] == pytest.approx(total.mass, rel=1e-6)
    assert ak.to_list(sel.variables["lep_type"]) == [[11, 11, 11, 11]]


@pytest.mark.parametrize(
    ("leps", "trig", "fails_at"),
    [
        (four_e(), False, "trigger"),
        (four_e()[:3], True, "exactly four good leptons"),
        ([*four_e(), lepton(15, 0.0, 0.5, 1, 13)], True, "exactly four good leptons"),
        (
            [*four_e(ptcone30=0.0)[:3], lepton(20, -1.2, 1.0, -1, 11, ptcone30=0.31 * 20000)],
            True,
            "exactly four good leptons",
        ),
        (
            [*four_e()[:3], lepton(20, -1.2, 1.0, -1, 13, trackd0pvunbiased=0.035)],
            True,
            "exactly four good leptons",
        ),  # muon |d0|/σ = 3.5 > 3
        (four_e(charges=(1, 1, 1, -1)), True, "zero net charge"),
        ([*four_e()[:3], lepton(20, -1.2, 1.0, -1, 13)], True, "eeee, μμμμ or eeμμ"),
    ],
)
def test_each_cut_rejects_its_event(hzz: Analysis, leps, trig, fails_at) -> None:
    sel = run(hzz, [event(leps, trig=trig)])
    assert sel.mask.tolist() == [False]
    failed = [c for c in sel.cutflow if not sel.cutflow[c][0]]
    assert failed[0] == fails_at


def test_electron_with_d0_ratio_4_passes_but_muon_fails(hzz: Analysis) -> None:
    ele = [*four_e()[:3], lepton(20, -1.2, 1.0, -1, 11, trackd0pvunbiased=0.04)]
    assert run(hzz, [event(ele)]).mask.tolist() == [True]


def test_original_pairing_takes_the_last_valid_partner(hzz: Analysis) -> None:
    leps = four_e(charges=(1, -1, 1, -1))
    p = [
        vector.obj(pt=lep["pt"] / 1e3, eta=lep["eta"], phi=lep["phi"], E=lep["E"] / 1e3)
        for lep in leps
    ]
    # ℓ1 is opposite in charge to ℓ2 and ℓ4: pairings (12)(34) and (14)(23) are valid;
    # the original keeps the last one, (14)(23).
    last = sorted([(p[0] + p[3]).mass, (p[1] + p[2]).mass], key=lambda m: abs(m - 91.18))
    first = sorted([(p[0] + p[1]).mass, (p[2] + p[3]).mass], key=lambda m: abs(m - 91.18))
    sel = run(hzz, [event(leps)], "last_valid")
    assert [sel.variables["mll1"][0], sel.variables["mll2"][0]] == pytest.approx(last)
    best = min([first, last], key=lambda pair: abs(pair[0] - 91.18))
    sel = run(hzz, [event(leps)], "closest_to_z")
    assert [sel.variables["mll1"][0], sel.variables["mll2"][0]] == pytest.approx(best)


def test_good_jets_are_counted(hzz: Analysis) -> None:
    sel = run(hzz, [event(four_e(), jets=(45.0, 31.0, 25.0))])
    assert sel.variables["n_jets"].tolist() == [2]


def test_unknown_pairing_option_is_an_error(hzz: Analysis) -> None:
    with pytest.raises(
        ValueError, match=r"selection\.pairing must be 'last_valid' or 'closest_to_z'"
    ):
        run(hzz, [event(four_e())], "best")


def test_empty_input(hzz: Analysis) -> None:
    leps = four_e()
    events = ak.Array([event(leps)])[:0]
    sel = hzz.selection.select_events(events, {})
    assert sel.mask.tolist() == []
    assert len(sel.variables["m4l"]) == 0
    assert np.all([len(v) == 0 for v in sel.cutflow.values()])
