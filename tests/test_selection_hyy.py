"""The H→γγ selection on hand-made events, cut by cut (reference §10.2)."""

import awkward as ak
import numpy as np
import pytest

from atlasod.selection.analysis import Analysis


def photon_event(pts, etas, phis=None, tight=None, ptcone=None, etcone=None, conv=None, trig=True):
    n = len(pts)
    return {
        "trigP": trig,
        "photon_pt": [p * 1000.0 for p in pts],
        "photon_eta": list(etas),
        "photon_phi": list(phis if phis is not None else [0.0, np.pi][:n] + [1.0] * (n - 2)),
        "photon_isTightID": list(tight if tight is not None else [True] * n),
        "photon_ptcone30": list(ptcone if ptcone is not None else [0.0] * n),
        "photon_etcone20": list(etcone if etcone is not None else [0.0] * n),
        "photon_convType": list(conv if conv is not None else [0] * n),
    }


def back_to_back(m: float, eta: float = 0.0) -> dict:
    """Two photons at the same η, opposite in φ: m = 2 pT."""
    return photon_event([m / 2, m / 2], [eta, eta])


def select(hyy: Analysis, events: list[dict]):
    return hyy.selection.select_events(ak.Array(events), {})


def test_back_to_back_pair_gives_its_mass(hyy: Analysis) -> None:
    sel = select(hyy, [back_to_back(125.0)])
    assert sel.mask.tolist() == [True]
    assert sel.variables["m_yy"][0] == pytest.approx(125.0, rel=1e-9)
    assert sel.variables["central_unconverted"].tolist() == [True]


@pytest.mark.parametrize(
    ("event", "fails_at"),
    [
        (photon_event([62.5, 62.5], [0, 0], trig=False), "trigger"),
        (photon_event([62.5, 62.5], [0, 0], tight=[True, False]), "exactly two good photons"),
        (photon_event([62.5, 62.5], [1.4, 1.4]), "exactly two good photons"),  # crack
        (photon_event([62.5, 62.5], [2.4, 2.4]), "exactly two good photons"),  # |η| > 2.37
        (photon_event([62.5, 62.5, 30.0], [0, 0, 0.5]), "exactly two good photons"),
        (photon_event([62.5, 62.5], [0, 0], ptcone=[0, 0.07 * 62500]), "isolation"),
        (photon_event([62.5, 62.5], [0, 0], etcone=[0.07 * 62500, 0]), "isolation"),
        (back_to_back(100.0), "105 < m_yy < 160 GeV"),
        (back_to_back(170.0), "105 < m_yy < 160 GeV"),
    ],
)
def test_each_cut_rejects_its_event(hyy: Analysis, event: dict, fails_at: str) -> None:
    sel = select(hyy, [event])
    assert sel.mask.tolist() == [False]
    cuts = list(sel.cutflow)
    failed = [c for c in cuts if not sel.cutflow[c][0]]
    assert failed[0] == fails_at


def test_pt_over_mass_cut(hyy: Analysis) -> None:
    # m = 120 GeV from asymmetric photons: pT2/m = 0.2 < 0.25 fails, 0.3 passes
    def pair(pt1: float, pt2: float) -> dict:
        # massless pair at Δφ = π, Δη chosen to give m = 120: m² = 2 pT1 pT2 (cosh Δη + 1)
        cosh = 120.0**2 / (2 * pt1 * pt2) - 1
        return photon_event([pt1, pt2], [-0.7, -0.7 + float(np.arccosh(cosh))])

    sel = select(hyy, [pair(80.0, 24.5), pair(60.0, 36.0)])
    assert sel.cutflow["isolation"].tolist() == [False, True]  # 24.5 GeV photon is not good
    sel = select(hyy, [pair(90.0, 27.0), pair(60.0, 36.0)])
    assert sel.cutflow["pT/m"].tolist() == [False, True]
    assert sel.variables["m_yy"] == pytest.approx([120.0], rel=1e-6)


def test_converted_or_forward_photons_are_not_in_the_central_category(hyy: Analysis) -> None:
    events = [
        back_to_back(125.0),
        photon_event([62.5, 62.5], [0.8, 0.8]),
        photon_event([62.5, 62.5], [0, 0], conv=[0, 1]),
    ]
    sel = select(hyy, events)
    assert sel.mask.tolist() == [True, True, True]
    assert sel.variables["central_unconverted"].tolist() == [True, False, False]
