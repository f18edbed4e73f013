"""Generic demo physics for analyses without a ``demo.py`` (declarative analyses, templates).

``demo.model`` in ``analysis.yaml`` chooses one:

- ``resonance``: a resonance of ``mass`` (Breit-Wigner ``width`` ⊗ Gaussian ``resolution``)
  decaying to two (``decay: 2``) or four (``decay: 4``, through two Z-like pairs) leptons
  or photons (``objects``), over a continuum falling as exp(−m/``slope``) in
  [``low``, ``high``]; with ``decay: 4`` and ``pairs: true`` the signal is a pair of
  resonances instead (ZZ → 4ℓ): two of ``mass``, ``width`` and ``resolution`` each, decaying
  to a same-flavour pair, with a four-lepton mass above their sum by an exponential of
  ``slope``;
- ``lepton_met``: W-like events, a lepton and a neutrino from a resonance of ``mass`` (the
  Jacobian peak in mT), over a background of a lepton with little missing ET;
- ``pair_lepton_met``: three leptons, WZ-like: a same-flavour, opposite-charge pair from
  a resonance of ``mass`` (as ``resonance``) and, in signal events, a lepton and a
  neutrino from a W of ``w_mass`` and ``w_width`` (the Jacobian peak in mT); background
  events have the pair, a soft lepton (pT 20 GeV + an exponential of 15 GeV) and little,
  unrelated missing ET (an exponential of ``background_met`` GeV);
- ``dilepton_met``: two leptons and two neutrinos from a pair of W bosons (H → WW*-like):
  in signal events from a resonance of ``mass`` (one W near ``w_mass``, the other off its
  shell), so that the transverse mass of the dilepton system and the missing ET ends at
  ``mass``; in background events from a WW continuum falling as exp(−m/``slope``) above
  ``low``; a fraction ``same_flavour`` of events has two leptons of one flavour, the others
  an electron and a muon; the missing ET is the neutrinos' with a Gaussian ``resolution``
  per component;
- ``lepton_tau``: a lepton and a hadronic τ (Z → ττ-like): in signal events both from the τ
  pair of a resonance of ``mass`` and ``width`` (each τ's visible part a fraction of it,
  collinear, the rest neutrinos: the missing ET), the file's ``ditau_m`` (the MMC mass, GeV)
  the resonance's mass with a Gaussian ``resolution``; in background events a W-like lepton
  with a fake τ (pT 25 GeV + an exponential of 15 GeV), the W's neutrino or (half of the
  events) little, unrelated missing ET, and ``ditau_m`` from a
  continuum falling as exp(−m/``slope``) in [``low``, ``high``];
- ``lepton_jets``: one lepton, missing ET and jets, each group a process of ``processes``:
  ``ttbar`` (tt̄ → bℓν bqq̄ with m(tt̄) falling from ``ttbar_mass.low``), ``resonance``
  (tt̄ from a resonance of ``mass`` and ``width``: a Z′), ``single_top``, ``t_channel``
  (t-channel single top: the top's decay and a forward light jet; m(ℓb) ends at
  √(m_t² − m_W²)) and ``w_jets`` (``w_jets_jets`` jets, 3 by default); hadronic top and W
  masses ``top_mass`` and ``w_mass``, jets smeared by ``jet_resolution``, b-tagged with
  efficiency ``b_tag_efficiency``; with ``large_r_jets: true`` every event also has large-R
  jets (the hadronic top of tt̄, QCD-like jets otherwise).

- ``dilepton_invisible``: two leptons and missing ET, each group a process of
  ``processes``: ``slepton`` (a pair of particles of ``mass``, each decaying to a lepton and
  an invisible particle of ``invisible_mass``: same flavour, opposite charge; m_T2 ends at
  (``mass``² − ``invisible_mass``²) / ``mass``), ``z`` (Z → ℓℓ with little missing ET),
  ``zz`` (Z → ℓℓ and Z → νν from a continuum above 183 GeV), ``ww`` (a WW continuum, both
  W → ℓν) and ``top`` (the same with two b-tagged jets); the backgrounds have an
  instrumental E_T^miss tail (``met_tail_fraction`` of their events, ``met_tail_mean``).

Groups with ``signal: true`` get the signal, the other groups the background; data hold a
fraction ``signal_fraction`` of signal events (or ``composition``: a fraction per group).  MC
weights are chosen so that the weighted MC matches the data, times ``data_over_mc`` for the
signal groups and ``data_over_mc_groups[group]`` for any group named there.  The truth
(events that pass the analysis' own selection) is computed by the engine after the file is
written (a teacher may change the cuts): for these analyses the selected counts are the
selection's own, and what the demo checks is the physics (the fitted mass, the signal
yield).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import vector

from atlasod.demo.kinematics import (
    DemoContext,
    DemoEvents,
    good_lepton_quality,
    jagged_branches,
    massless,
    resonance,
    stack_objects,
    truncated_exponential,
    two_body_decay,
)

DEFAULTS: dict[str, Any] = {
    "objects": "lep",
    "decay": 2,
    "flavours": [11, 13],
    "mass": 91.19,
    "width": 2.5,
    "resolution": 2.0,
    "low": 60.0,
    "high": 160.0,
    "slope": 30.0,
    "signal_fraction": 0.5,
}


def _params(ctx: DemoContext) -> dict[str, Any]:
    return {**DEFAULTS, **ctx.params}


def _masses(rng: np.random.Generator, signal: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    n = len(signal)
    peak = p["mass"] + 0.5 * p["width"] * np.tan(np.pi * (rng.random(n) - 0.5))
    peak = np.clip(peak, 0.5 * p["mass"], 1.5 * p["mass"]) + rng.normal(0, p["resolution"], n)
    continuum = truncated_exponential(rng, n, p["low"], p["high"], p["slope"])
    return np.where(signal, peak, continuum)


def _decay(rng: np.random.Generator, mass: np.ndarray, decay: int) -> list[Any]:
    parent = resonance(rng, mass, pt_scale=20.0, eta_sigma=1.0)
    if decay == 2:
        return list(two_body_decay(rng, parent, 0.0, 0.0))
    m1 = rng.uniform(0.5, 0.7, len(mass)) * mass
    m2 = rng.uniform(0.2, 0.9, len(mass)) * (mass - m1)
    z1, z2 = two_body_decay(rng, parent, m1, m2)
    return [*two_body_decay(rng, z1, 0.0, 0.0), *two_body_decay(rng, z2, 0.0, 0.0)]


def _resonance_pair(rng: np.random.Generator, signal: np.ndarray, p: dict[str, Any]) -> list[Any]:
    """Four leptons: from two resonances of ``mass`` in signal events (ZZ), from the
    continuum's four-object decay in the others."""
    n = len(signal)
    on_shell = np.ones(n, dtype=bool)
    z1, z2 = _masses(rng, on_shell, p), _masses(rng, on_shell, p)
    above = truncated_exponential(rng, n, 0.0, p["high"], p["slope"])
    continuum = truncated_exponential(rng, n, p["low"], p["high"], p["slope"])
    c1 = rng.uniform(0.5, 0.7, n) * continuum
    c2 = rng.uniform(0.2, 0.9, n) * (continuum - c1)
    parent = resonance(
        rng, np.where(signal, z1 + z2 + above, continuum), pt_scale=20.0, eta_sigma=1.0
    )
    first, second = two_body_decay(rng, parent, np.where(signal, z1, c1), np.where(signal, z2, c2))
    return [*two_body_decay(rng, first, 0.0, 0.0), *two_body_decay(rng, second, 0.0, 0.0)]


def _objects(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> dict[str, Any]:
    rng, n, k = ctx.rng, ctx.n_events, int(p["decay"])
    if p.get("pairs"):
        if k != 4:
            raise ValueError(f"demo.pairs: true needs demo.decay: 4, not {k}")
        cols = stack_objects(*_resonance_pair(rng, signal, p))
    else:
        cols = stack_objects(*_decay(rng, _masses(rng, signal, p), k))
    order = cols.pop("order")
    prefix = p["objects"]
    out: dict[str, Any] = {}
    counts = np.full(n, k)
    if prefix == "lep":
        flavour = rng.choice(p["flavours"], size=(n, k // 2))
        ftype = np.repeat(flavour, 2, axis=1)
        sign = np.where(rng.random((n, k // 2)) < 0.5, 1, -1)
        charge = np.stack([sign, -sign], axis=2).reshape(n, k)
        cols["type"] = np.take_along_axis(ftype, order, axis=1)
        cols["charge"] = np.take_along_axis(charge, order, axis=1)
        cols.update(good_lepton_quality(rng, cols["pt"]))
        out["trigE"] = np.any(cols["type"] == 11, axis=1)
        out["trigM"] = np.any(cols["type"] == 13, axis=1)
    else:
        cols["isTightID"] = np.ones((n, k), dtype=bool)
        cols["ptcone30"] = cols["pt"] * rng.uniform(0, 0.03, (n, k))
        cols["etcone20"] = cols["pt"] * rng.uniform(-0.02, 0.03, (n, k))
        out["trigP"] = np.ones(n, dtype=bool)
    out.update(jagged_branches(prefix, cols, counts))
    out["met_et"] = rng.exponential(10e3, n)
    out["met_phi"] = rng.uniform(-np.pi, np.pi, n)
    return out


def _lepton_met(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> dict[str, Any]:
    rng, n = ctx.rng, ctx.n_events
    mass = p["mass"] + 0.5 * p["width"] * np.tan(np.pi * (rng.random(n) - 0.5))
    mass = np.clip(mass, 0.6 * p["mass"], 1.4 * p["mass"])
    parent = resonance(rng, mass, pt_scale=10.0, eta_sigma=1.2)
    lep, nu = two_body_decay(rng, parent, 0.0, 0.0)
    met = np.asarray(nu.pt) + rng.normal(0, p["resolution"], n)
    met_phi = np.asarray(nu.phi)
    # background: a lepton with a falling pT and little, unrelated missing ET
    bkg_pt = 20 + rng.exponential(15.0, n)
    bkg_eta = rng.uniform(-2.4, 2.4, n)
    fake = vector.array(
        {"pt": bkg_pt, "eta": bkg_eta, "phi": rng.uniform(-np.pi, np.pi, n), "mass": np.zeros(n)}
    )
    pt = np.where(signal, np.asarray(lep.pt), np.asarray(fake.pt))
    eta = np.where(signal, np.asarray(lep.eta), np.asarray(fake.eta))
    phi = np.where(signal, np.asarray(lep.phi), np.asarray(fake.phi))
    met = np.where(signal, met, rng.exponential(12.0, n))
    met_phi = np.where(signal, met_phi, rng.uniform(-np.pi, np.pi, n))
    cols: dict[str, Any] = {
        "pt": (pt * 1000.0)[:, None],
        "eta": eta[:, None],
        "phi": phi[:, None],
        "E": (pt * np.cosh(eta) * 1000.0)[:, None],
        "charge": np.where(rng.random(n) < 0.5, 1, -1)[:, None],
        "type": rng.choice(p["flavours"], size=n)[:, None],
    }
    cols.update(good_lepton_quality(rng, cols["pt"]))
    out = jagged_branches("lep", cols, np.ones(n, dtype=np.int64))
    out["trigE"] = cols["type"][:, 0] == 11
    out["trigM"] = cols["type"][:, 0] == 13
    out["met_et"] = np.clip(met, 0, None) * 1000.0
    out["met_phi"] = met_phi
    return out


def _pair_lepton_met(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> dict[str, Any]:
    rng, n = ctx.rng, ctx.n_events
    z1, z2 = _decay(rng, _masses(rng, np.ones(n, dtype=bool), p), 2)
    w = resonance(rng, _w_masses(rng, n, p), pt_scale=20.0, eta_sigma=1.0)
    lep, nu = two_body_decay(rng, w, 0.0, 0.0)
    fake = massless(
        20 + rng.exponential(15.0, n), rng.uniform(-2.4, 2.4, n), rng.uniform(-np.pi, np.pi, n)
    )
    third = vector.array(
        {
            name: np.where(signal, np.asarray(getattr(lep, name)), np.asarray(getattr(fake, name)))
            for name in ("pt", "eta", "phi", "mass")
        }
    )
    cols = stack_objects(z1, z2, third)
    order = cols.pop("order")
    pair_flavour = rng.choice(p["flavours"], size=n)
    flavour = np.stack([pair_flavour, pair_flavour, rng.choice(p["flavours"], size=n)], axis=1)
    sign = np.where(rng.random(n) < 0.5, 1, -1)
    charge = np.stack([sign, -sign, np.where(rng.random(n) < 0.5, 1, -1)], axis=1)
    cols["type"] = np.take_along_axis(flavour, order, axis=1)
    cols["charge"] = np.take_along_axis(charge, order, axis=1)
    cols.update(good_lepton_quality(rng, cols["pt"]))
    out = jagged_branches("lep", cols, np.full(n, 3))
    out["trigE"] = np.any(cols["type"] == 11, axis=1)
    out["trigM"] = np.any(cols["type"] == 13, axis=1)
    met = np.asarray(nu.pt) + rng.normal(0, p["resolution"], n)
    background_met = rng.exponential(float(p.get("background_met", 12.0)), n)
    out["met_et"] = np.clip(np.where(signal, met, background_met), 0, None) * 1000.0
    out["met_phi"] = np.where(signal, np.asarray(nu.phi), rng.uniform(-np.pi, np.pi, n))
    return out


def _w_masses(rng: np.random.Generator, n: int, p: dict[str, Any]) -> np.ndarray:
    w_mass = float(p.get("w_mass", 80.379))
    mass = w_mass + 0.5 * float(p.get("w_width", 2.085)) * np.tan(np.pi * (rng.random(n) - 0.5))
    return np.clip(mass, 0.6 * w_mass, 1.4 * w_mass)


def _dilepton_met(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> dict[str, Any]:
    rng, n = ctx.rng, ctx.n_events
    mass = float(p["mass"])
    # signal: one W on its shell (below what the resonance leaves), the other off it
    on_shell = np.minimum(_w_masses(rng, n, p), mass - 12.0)
    off_shell = rng.uniform(0.15, 0.95, n) * (mass - on_shell)
    # background: two Ws on their shells from a continuum above their sum
    w1, w2 = _w_masses(rng, n, p), _w_masses(rng, n, p)
    continuum = truncated_exponential(rng, n, p["low"], p["high"], p["slope"])
    parent_mass = np.where(signal, mass, np.maximum(continuum, w1 + w2 + 1.0))
    first = np.where(signal, on_shell, w1)
    second = np.where(signal, off_shell, w2)
    parent = resonance(rng, parent_mass, pt_scale=15.0, eta_sigma=1.0)
    boson1, boson2 = two_body_decay(rng, parent, first, second)
    lep1, nu1 = two_body_decay(rng, boson1, 0.0, 0.0)
    lep2, nu2 = two_body_decay(rng, boson2, 0.0, 0.0)
    cols = stack_objects(lep1, lep2)
    order = cols.pop("order")
    first_flavour = rng.choice([11, 13], size=n)
    other = np.where(first_flavour == 11, 13, 11)
    same = rng.random(n) < float(p.get("same_flavour", 0.2))
    flavour = np.stack([first_flavour, np.where(same, first_flavour, other)], axis=1)
    sign = np.where(rng.random(n) < 0.5, 1, -1)
    cols["type"] = np.take_along_axis(flavour, order, axis=1)
    cols["charge"] = np.take_along_axis(np.stack([sign, -sign], axis=1), order, axis=1)
    cols.update(good_lepton_quality(rng, cols["pt"]))
    out = jagged_branches("lep", cols, np.full(n, 2))
    out["trigE"] = np.any(cols["type"] == 11, axis=1)
    out["trigM"] = np.any(cols["type"] == 13, axis=1)
    px = np.asarray(nu1.px) + np.asarray(nu2.px) + rng.normal(0, p["resolution"], n)
    py = np.asarray(nu1.py) + np.asarray(nu2.py) + rng.normal(0, p["resolution"], n)
    out["met_et"] = np.hypot(px, py) * 1000.0
    out["met_phi"] = np.arctan2(py, px)
    return out


def _lepton_tau(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> dict[str, Any]:
    rng, n = ctx.rng, ctx.n_events
    mass = _masses(rng, np.ones(n, dtype=bool), {**p, "resolution": 0.0})
    tau_l, tau_h = two_body_decay(rng, resonance(rng, mass, pt_scale=10.0, eta_sigma=1.0), 0.0, 0.0)
    x_l, x_h = rng.uniform(0.3, 1.0, n), rng.uniform(0.4, 1.0, n)
    w = resonance(rng, _w_masses(rng, n, p), pt_scale=10.0, eta_sigma=1.0)
    w_lep, w_nu = two_body_decay(rng, w, 0.0, 0.0)
    fake = massless(
        25 + rng.exponential(15.0, n), rng.uniform(-2.4, 2.4, n), rng.uniform(-np.pi, np.pi, n)
    )

    def pick(a: Any, b: Any, name: str, scale: Any = 1.0) -> np.ndarray:
        return np.where(signal, np.asarray(getattr(a, name)) * scale, np.asarray(getattr(b, name)))

    lep = {k: pick(tau_l, w_lep, k, x_l if k == "pt" else 1.0) for k in ("pt", "eta", "phi")}
    tau = {k: pick(tau_h, fake, k, x_h if k == "pt" else 1.0) for k in ("pt", "eta", "phi")}
    # background: half with the W's neutrino, half with little, unrelated missing ET
    fake_met = rng.exponential(10.0, n)
    fake_phi = rng.uniform(-np.pi, np.pi, n)
    with_nu = rng.random(n) < 0.5
    bkg_px = np.where(with_nu, np.asarray(w_nu.px), fake_met * np.cos(fake_phi))
    bkg_py = np.where(with_nu, np.asarray(w_nu.py), fake_met * np.sin(fake_phi))
    px = np.where(
        signal, np.asarray(tau_l.px) * (1 - x_l) + np.asarray(tau_h.px) * (1 - x_h), bkg_px
    ) + rng.normal(0, 5.0, n)
    py = np.where(
        signal, np.asarray(tau_l.py) * (1 - x_l) + np.asarray(tau_h.py) * (1 - x_h), bkg_py
    ) + rng.normal(0, 5.0, n)
    lep_type = rng.choice(p["flavours"], size=n)
    lep_charge = np.where(rng.random(n) < 0.5, 1, -1)
    tau_charge = np.where(signal, -lep_charge, np.where(rng.random(n) < 0.5, 1, -1))
    cols: dict[str, Any] = {
        "pt": (lep["pt"] * 1000.0)[:, None],
        "eta": lep["eta"][:, None],
        "phi": lep["phi"][:, None],
        "E": (lep["pt"] * np.cosh(lep["eta"]) * 1000.0)[:, None],
        "charge": lep_charge[:, None],
        "type": lep_type[:, None],
    }
    cols.update(good_lepton_quality(rng, cols["pt"]))
    out = jagged_branches("lep", cols, np.ones(n, dtype=np.int64))
    taus = {
        "pt": (tau["pt"] * 1000.0)[:, None],
        "eta": tau["eta"][:, None],
        "phi": tau["phi"][:, None],
        "E": (tau["pt"] * np.cosh(tau["eta"]) * 1000.0)[:, None],
        "charge": tau_charge[:, None],
        "isTightID": np.ones((n, 1), dtype=bool),
        "nTracks": np.where(rng.random(n) < 0.7, 1, 3)[:, None],
        "BDTid": rng.uniform(0.7, 1.0, n)[:, None],
        "pt_syst": (0.05 * tau["pt"] * 1000.0)[:, None],
    }
    out.update(jagged_branches("tau", taus, np.ones(n, dtype=np.int64)))
    out["trigE"] = lep_type == 11
    out["trigM"] = lep_type == 13
    out["met_et"] = np.hypot(px, py) * 1000.0
    out["met_phi"] = np.arctan2(py, px)
    continuum = truncated_exponential(rng, n, p["low"], p["high"], p["slope"])
    mmc = np.where(signal, mass + rng.normal(0, p["resolution"], n), continuum)
    out["ditau_m"] = mmc.astype(np.float32)  # in GeV, as in the files (more-analyses §6.3)
    return out


# --- lepton + jets: tt̄, Z′ → tt̄, single top, W+jets -------------------------------------

LEPTON_JETS: dict[str, Any] = {
    "top_mass": 172.5,
    "top_width": 1.4,
    "w_mass": 80.379,
    "w_width": 2.085,
    "ttbar_mass": {"low": 350.0, "slope": 150.0},
    "system_pt": 40.0,
    "jet_resolution": 0.1,
    "met_resolution": 8.0,
    "b_tag_efficiency": 0.77,
    "mistag_rate": 0.01,
    "extra_jets": 1.0,
    "large_r_jets": False,
    # the number of W+jets jets (1 to 3) and the probability that each of them is a b (W+bb̄,
    # W+c mistags)
    "w_jets_jets": 3,
    "w_jets_b_fractions": [0.5, 0.35, 0.0],
}
PROCESSES = ("ttbar", "resonance", "single_top", "t_channel", "w_jets")
B_MASS = 4.8
MAX_JETS = 10


def _breit_wigner(
    rng: np.random.Generator, mass: float, width: float, n: int, spread: float = 0.15
) -> np.ndarray:
    """Breit-Wigner masses, cut at ``mass`` ± ``spread`` × ``mass``."""
    m = mass + 0.5 * width * np.tan(np.pi * (rng.random(n) - 0.5))
    return np.clip(m, (1 - spread) * mass, (1 + spread) * mass)


def _scaled(p4: Any, factor: np.ndarray) -> Any:
    """The four-vectors with energy and momentum scaled by ``factor`` (a jet energy scale)."""
    return vector.array(
        {"pt": p4.pt * factor, "eta": p4.eta, "phi": p4.phi, "mass": p4.mass * factor}
    )


def _top_decay(rng: np.random.Generator, top: Any, p: dict[str, Any]) -> tuple[Any, Any, Any]:
    """t → bW, W → two massless daughters (ℓν or qq̄): (b, daughter 1, daughter 2)."""
    n = len(top)
    b, w = two_body_decay(rng, top, B_MASS, _breit_wigner(rng, p["w_mass"], p["w_width"], n))
    d1, d2 = two_body_decay(rng, w, 0.0, 0.0)
    return b, d1, d2


def _process(rng: np.random.Generator, kind: str, n: int, p: dict[str, Any]) -> dict[str, Any]:
    """Partons of ``n`` events of one process: lepton, neutrino, jets (with b flags) and the
    large-R jet candidate (the hadronic top, or None)."""

    def top_mass() -> np.ndarray:
        return _breit_wigner(rng, p["top_mass"], p["top_width"], n)

    if kind in ("ttbar", "resonance"):
        mt1, mt2 = top_mass(), top_mass()
        if kind == "ttbar":
            spec = p["ttbar_mass"]
            m_tt = spec["low"] + rng.exponential(spec["slope"], n)
        else:
            m_tt = _breit_wigner(rng, p["mass"], p["width"], n, spread=0.3)
        m_tt = np.maximum(m_tt, mt1 + mt2 + 5.0)
        system = resonance(rng, m_tt, pt_scale=p["system_pt"], eta_sigma=0.8)
        t_lep, t_had = two_body_decay(rng, system, mt1, mt2)
        b_lep, lep, nu = _top_decay(rng, t_lep, p)
        b_had, q1, q2 = _top_decay(rng, t_had, p)
        return {
            "lep": lep,
            "nu": nu,
            "jets": [(b_lep, 5), (b_had, 5), (q1, 0), (q2, 0)],
            "top": t_had,
        }
    if kind == "single_top":
        top = resonance(rng, top_mass(), pt_scale=p["system_pt"], eta_sigma=1.0)
        b, lep, nu = _top_decay(rng, top, p)
        forward = massless(
            25 + rng.exponential(30.0, n), rng.normal(0, 2.0, n), rng.uniform(-np.pi, np.pi, n)
        )
        second = massless(
            25 + rng.exponential(30.0, n), rng.uniform(-2.5, 2.5, n), rng.uniform(-np.pi, np.pi, n)
        )
        flavour = np.where(rng.random(n) < 0.5, 5, 0)  # the spectator b of tW / t-channel
        return {
            "lep": lep,
            "nu": nu,
            "jets": [(b, 5), (forward, 0), (second, flavour)],
            "top": None,
        }
    if kind == "t_channel":
        # t-channel single top: the top's b, lepton and neutrino, and the light spectator
        # quark as a forward jet (|η| around 2.4); m(ℓb) ends at √(m_t² − m_W²)
        top = resonance(rng, top_mass(), pt_scale=p["system_pt"], eta_sigma=1.0)
        b, lep, nu = _top_decay(rng, top, p)
        side = np.where(rng.random(n) < 0.5, -1.0, 1.0)
        spectator = massless(
            30 + rng.exponential(40.0, n),
            side * np.abs(rng.normal(2.4, 0.7, n)),
            rng.uniform(-np.pi, np.pi, n),
        )
        return {"lep": lep, "nu": nu, "jets": [(b, 5), (spectator, 0)], "top": None}
    if kind == "w_jets":
        w = resonance(
            rng,
            _breit_wigner(rng, p["w_mass"], p["w_width"], n),
            pt_scale=p["system_pt"],
            eta_sigma=1.2,
        )
        lep, nu = two_body_decay(rng, w, 0.0, 0.0)
        jets = []
        for k in range(p["w_jets_jets"]):
            flavour = np.where(rng.random(n) < p["w_jets_b_fractions"][k], 5, 0)
            jet = massless(
                30 + rng.exponential(45.0, n),
                rng.uniform(-2.5, 2.5, n),
                rng.uniform(-np.pi, np.pi, n),
            )
            jets.append((jet, flavour))
        return {"lep": lep, "nu": nu, "jets": jets, "top": None}
    raise ValueError(f"demo.processes: unknown process {kind!r}; choose from {list(PROCESSES)}")


def _event_processes(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> np.ndarray:
    """The process of every event: the sample's group's, or for data drawn by composition."""
    processes: dict[str, str] = p.get("processes", {})
    n = ctx.n_events
    if not ctx.sample.is_data:
        if ctx.group not in processes:
            raise ValueError(f"demo.processes names no process for group {ctx.group!r}")
        return np.full(n, processes[ctx.group], dtype=object)
    composition: dict[str, float] = p["composition"]
    missing = [g for g in composition if g not in processes]
    if missing:
        raise ValueError(f"demo.processes names no process for group(s) {missing}")
    kinds = np.empty(n, dtype=object)
    for role in (True, False):
        names = [g for g in composition if (g in p.get("_signal_groups", ())) == role]
        idx = np.flatnonzero(signal == role)
        if not names or len(idx) == 0:
            continue
        share = np.array([composition[g] for g in names], dtype=float)
        choice = ctx.rng.choice(len(names), size=len(idx), p=share / share.sum())
        kinds[idx] = np.array([processes[names[c]] for c in choice], dtype=object)
    return kinds


def _lepton_jets(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> dict[str, Any]:
    rng, n = ctx.rng, ctx.n_events
    p = {**LEPTON_JETS, **p}
    kinds = _event_processes(ctx, signal, p)
    lep = np.zeros((n, 3))  # pt, eta, phi
    met = np.zeros((n, 2))  # et, phi
    jets = np.zeros((n, MAX_JETS, 5))  # pt, eta, phi, E, flavour (GeV)
    n_jets = np.zeros(n, dtype=np.int64)
    top = np.full((n, 4), np.nan)  # pt, eta, phi, mass of the hadronic top
    for kind in sorted({str(k) for k in kinds}):
        idx = np.flatnonzero(kinds == kind)
        parts = _process(rng, kind, len(idx), p)
        lep[idx] = np.stack([parts["lep"].pt, parts["lep"].eta, parts["lep"].phi], axis=1)
        met_et = np.clip(parts["nu"].pt + rng.normal(0, p["met_resolution"], len(idx)), 0, None)
        met[idx] = np.stack([met_et, parts["nu"].phi], axis=1)
        if parts["top"] is not None:
            t = parts["top"]
            top[idx] = np.stack([t.pt, t.eta, t.phi, t.mass], axis=1)
        n_extra = rng.poisson(p["extra_jets"], len(idx))
        extra = [
            (
                massless(
                    25 + rng.exponential(30.0, len(idx)),
                    rng.uniform(-2.8, 2.8, len(idx)),
                    rng.uniform(-np.pi, np.pi, len(idx)),
                ),
                np.zeros(len(idx)),
                n_extra > k,
            )
            for k in range(3)
        ]
        candidates = [(j, f, np.ones(len(idx), dtype=bool)) for j, f in parts["jets"]] + extra
        cols = []
        for jet, flavour, present in candidates:
            scale = np.clip(1 + p["jet_resolution"] * rng.standard_normal(len(idx)), 0.3, None)
            smeared = _scaled(jet, scale)
            pt = np.where(present, np.asarray(smeared.pt), 0.0)
            flav = np.broadcast_to(np.asarray(flavour, dtype=float), (len(idx),))
            cols.append(np.stack([pt, smeared.eta, smeared.phi, smeared.E, flav], axis=1))
        block = np.stack(cols, axis=1)  # (m, k, 5)
        keep = (block[:, :, 0] > 20) & (np.abs(block[:, :, 1]) < 4.5)
        block[~keep, 0] = 0.0
        order = np.argsort(-block[:, :, 0], axis=1, kind="stable")
        block = np.take_along_axis(block, order[:, :, None], axis=1)[:, :MAX_JETS]
        jets[idx, : block.shape[1]] = block
        n_jets[idx] = np.minimum(keep.sum(axis=1), MAX_JETS)
    out: dict[str, Any] = {}
    # the lepton: good quality; whether it is in the acceptance is up to the kinematics
    lep_pt = lep[:, 0:1] * 1000.0
    lep_cols: dict[str, Any] = {
        "pt": lep_pt,
        "eta": lep[:, 1:2],
        "phi": lep[:, 2:3],
        "E": lep_pt * np.cosh(lep[:, 1:2]),
        "charge": np.where(rng.random((n, 1)) < 0.5, 1, -1),
        "type": rng.choice(p.get("flavours", [11, 13]), size=(n, 1)),
    }
    lep_cols.update(good_lepton_quality(rng, lep_pt))
    out.update(jagged_branches("lep", lep_cols, np.ones(n, dtype=np.int64)))
    out["trigE"] = lep_cols["type"][:, 0] == 11
    out["trigM"] = lep_cols["type"][:, 0] == 13
    out["met_et"] = met[:, 0] * 1000.0
    out["met_phi"] = met[:, 1]
    out["met_et_syst"] = 0.05 * out["met_et"]
    is_b = jets[:, :, 4] == 5
    tagged = rng.random((n, MAX_JETS)) < np.where(is_b, p["b_tag_efficiency"], p["mistag_rate"])
    jet_cols = {
        "pt": jets[:, :, 0] * 1000.0,
        "eta": jets[:, :, 1],
        "phi": jets[:, :, 2],
        "E": jets[:, :, 3] * 1000.0,
        "MV2c10": np.where(
            tagged, rng.uniform(0.85, 1.0, (n, MAX_JETS)), rng.uniform(-1.0, 0.8, (n, MAX_JETS))
        ),
        "jvt": rng.uniform(0.6, 1.0, (n, MAX_JETS)),
        "trueflav": jets[:, :, 4].astype(np.int32),
        "truthMatched": np.ones((n, MAX_JETS), dtype=bool),
        "pt_syst": 0.05 * jets[:, :, 0] * 1000.0,
    }
    out.update(jagged_branches("jet", jet_cols, n_jets))
    if p["large_r_jets"]:
        out.update(_large_r_jets(rng, top, p))
    return out


def _large_r_jets(rng: np.random.Generator, top: np.ndarray, p: dict[str, Any]) -> dict:
    """The hadronic top as a large-R jet (mass and pT smeared, low τ32) where there is one,
    and a QCD-like jet (falling mass, high τ32) in every event, pT-ordered."""
    n = len(top)
    has_top = ~np.isnan(top[:, 0])
    res = p["jet_resolution"]
    t_pt = np.nan_to_num(top[:, 0]) * np.clip(1 + res * rng.standard_normal(n), 0.3, None)
    t_m = np.nan_to_num(top[:, 3]) * np.clip(1 + res * rng.standard_normal(n), 0.3, None)
    qcd_pt = 250 + rng.exponential(100.0, n)
    qcd_m = 30 + rng.exponential(35.0, n)
    qcd_eta, qcd_phi = rng.normal(0, 1.2, n), rng.uniform(-np.pi, np.pi, n)
    # (n, 2, 5): pt, eta, phi, m, tau32; slot 0 the top (if any), slot 1 the QCD jet
    block = np.stack(
        [
            np.stack(
                [
                    t_pt,
                    np.nan_to_num(top[:, 1]),
                    np.nan_to_num(top[:, 2]),
                    t_m,
                    rng.uniform(0.35, 0.75, n),
                ],
                axis=1,
            ),
            np.stack([qcd_pt, qcd_eta, qcd_phi, qcd_m, rng.uniform(0.5, 1.0, n)], axis=1),
        ],
        axis=1,
    )
    present = np.stack([has_top, np.ones(n, dtype=bool)], axis=1)
    block[~present, 0] = -1.0
    order = np.argsort(-block[:, :, 0], axis=1, kind="stable")
    block = np.take_along_axis(block, order[:, :, None], axis=1)
    counts = present.sum(axis=1)
    pt, eta, m = block[:, :, 0], block[:, :, 1], block[:, :, 3]
    energy = np.sqrt((pt * np.cosh(eta)) ** 2 + m**2)
    cols = {
        "pt": pt * 1000.0,
        "eta": eta,
        "phi": block[:, :, 2],
        "m": m * 1000.0,
        "E": energy * 1000.0,
        "tau32": block[:, :, 4],
        "D2": rng.uniform(0.5, 3.0, (n, 2)),
        "truthMatched": np.zeros((n, 2), dtype=np.int32),
        "pt_syst": 0.05 * pt * 1000.0,
    }
    return jagged_branches("largeRjet", cols, counts)


DILEPTON_INVISIBLE: dict[str, Any] = {
    "mass": 600.0,  # the pair-produced particle (a slepton)
    "invisible_mass": 300.0,  # what each one decays to besides its lepton (a neutralino)
    "pair_slope": 150.0,  # the pair's mass above threshold: an exponential of this slope
    "system_pt": 30.0,
    "z_met": 15.0,  # E_T^miss of Z → ℓℓ events: an exponential of this mean
    "low": 170.0,  # the WW continuum of ww and top events
    "high": 1000.0,
    "slope": 100.0,
    "same_flavour": 0.5,  # of ww and top events (slepton and z events are all SFOS)
    "met_resolution": 10.0,  # per component, GeV
    # an instrumental tail of the backgrounds' E_T^miss: in this fraction of their events, a
    # fake E_T^miss of an exponential of met_tail_mean GeV in a random direction is added
    "met_tail_fraction": 0.05,
    "met_tail_mean": 100.0,
}
DILEPTON_PROCESSES = ("slepton", "z", "zz", "ww", "top")
Z_MASS, Z_WIDTH = 91.19, 2.495


def _z_masses(rng: np.random.Generator, n: int) -> np.ndarray:
    return _breit_wigner(rng, Z_MASS, Z_WIDTH, n)


def _dilepton_kind(
    rng: np.random.Generator, kind: str, n: int, p: dict[str, Any]
) -> tuple[Any, Any, np.ndarray, np.ndarray, np.ndarray]:
    """Two leptons, the invisible transverse momentum (px, py) and whether the event is of
    one flavour, for ``n`` events of one process of the dilepton_invisible model."""
    if kind == "slepton":
        pair = 2 * p["mass"] + rng.exponential(p["pair_slope"], n)
        system = resonance(rng, pair, pt_scale=p["system_pt"], eta_sigma=1.0)
        s1, s2 = two_body_decay(rng, system, p["mass"], p["mass"])
        a, x1 = two_body_decay(rng, s1, 0.0, p["invisible_mass"])
        b, x2 = two_body_decay(rng, s2, 0.0, p["invisible_mass"])
        px, py = np.asarray(x1.px + x2.px), np.asarray(x1.py + x2.py)
        return a, b, px, py, np.ones(n, dtype=bool)
    if kind == "z":
        z = resonance(rng, _z_masses(rng, n), p["system_pt"], eta_sigma=1.5)
        a, b = two_body_decay(rng, z, 0.0, 0.0)
        met, phi = rng.exponential(p["z_met"], n), rng.uniform(-np.pi, np.pi, n)
        return a, b, met * np.cos(phi), met * np.sin(phi), np.ones(n, dtype=bool)
    if kind == "zz":  # Z → ℓℓ with Z → νν: the invisible Z's pT is the missing ET
        mass = np.maximum(truncated_exponential(rng, n, p["low"], p["high"], p["slope"]), 183.0)
        system = resonance(rng, mass, pt_scale=p["system_pt"], eta_sigma=1.0)
        z1, z2 = two_body_decay(rng, system, _z_masses(rng, n), _z_masses(rng, n))
        a, b = two_body_decay(rng, z1, 0.0, 0.0)
        return a, b, np.asarray(z2.px), np.asarray(z2.py), np.ones(n, dtype=bool)
    if kind in ("ww", "top"):
        w1, w2 = _w_masses(rng, n, p), _w_masses(rng, n, p)
        mass = np.maximum(truncated_exponential(rng, n, p["low"], p["high"], p["slope"]), w1 + w2)
        system = resonance(rng, mass + 1.0, pt_scale=p["system_pt"], eta_sigma=1.0)
        b1, b2 = two_body_decay(rng, system, w1, w2)
        a, nu1 = two_body_decay(rng, b1, 0.0, 0.0)
        b, nu2 = two_body_decay(rng, b2, 0.0, 0.0)
        px, py = np.asarray(nu1.px + nu2.px), np.asarray(nu1.py + nu2.py)
        return a, b, px, py, rng.random(n) < p["same_flavour"]
    raise ValueError(
        f"demo.processes: unknown process {kind!r}; choose from {list(DILEPTON_PROCESSES)}"
    )


def _dilepton_invisible(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> dict:
    rng, n = ctx.rng, ctx.n_events
    p = {**DILEPTON_INVISIBLE, **p}
    kinds = _event_processes(ctx, signal, p)
    lep = np.zeros((n, 2, 4))  # pt, eta, phi, E (GeV) of the two leptons
    met = np.zeros((n, 2))  # px, py
    same = np.zeros(n, dtype=bool)
    for kind in sorted({str(k) for k in kinds}):
        idx = np.flatnonzero(kinds == kind)
        a, b, px, py, one_flavour = _dilepton_kind(rng, kind, len(idx), p)
        for slot, x in enumerate((a, b)):
            lep[idx, slot] = np.stack([x.pt, x.eta, x.phi, x.E], axis=1)
        met[idx] = np.stack([px, py], axis=1) + rng.normal(0, p["met_resolution"], (len(idx), 2))
        if kind != "slepton":
            tail = rng.random(len(idx)) < p["met_tail_fraction"]
            fake = rng.exponential(p["met_tail_mean"], len(idx)) * tail
            direction = rng.uniform(-np.pi, np.pi, len(idx))
            met[idx] += np.stack([fake * np.cos(direction), fake * np.sin(direction)], axis=1)
        same[idx] = one_flavour
    order = np.argsort(-lep[:, :, 0], axis=1, kind="stable")
    lep = np.take_along_axis(lep, order[:, :, None], axis=1)
    first = rng.choice([11, 13], size=n)
    flavour = np.stack([first, np.where(same, first, 24 - first)], axis=1)
    sign = np.where(rng.random(n) < 0.5, 1, -1)
    cols: dict[str, Any] = {
        "pt": lep[:, :, 0] * 1000.0,
        "eta": lep[:, :, 1],
        "phi": lep[:, :, 2],
        "E": lep[:, :, 3] * 1000.0,
        "type": np.take_along_axis(flavour, order, axis=1),
        "charge": np.take_along_axis(np.stack([sign, -sign], axis=1), order, axis=1),
    }
    cols.update(good_lepton_quality(rng, cols["pt"]))
    out = jagged_branches("lep", cols, np.full(n, 2))
    out["trigE"] = np.any(cols["type"] == 11, axis=1)
    out["trigM"] = np.any(cols["type"] == 13, axis=1)
    out["met_et"] = np.hypot(met[:, 0], met[:, 1]) * 1000.0
    out["met_phi"] = np.arctan2(met[:, 1], met[:, 0])
    # top events: two b-tagged jets (pT 30 GeV + an exponential of 50 GeV, |η| < 2.5)
    n_jets = np.where(kinds == "top", 2, 0)
    shape = (n, 2)
    jet_pt = 30 + rng.exponential(50.0, shape)
    jet_eta = rng.uniform(-2.5, 2.5, shape)
    jets = {
        "pt": jet_pt * 1000.0,
        "eta": jet_eta,
        "phi": rng.uniform(-np.pi, np.pi, shape),
        "E": jet_pt * np.cosh(jet_eta) * 1000.0,
        "MV2c10": rng.uniform(0.85, 1.0, shape),
        "jvt": np.ones(shape),
    }
    out.update(jagged_branches("jet", jets, n_jets))
    return out


MODELS = {
    "resonance": _objects,
    "lepton_met": _lepton_met,
    "pair_lepton_met": _pair_lepton_met,
    "dilepton_met": _dilepton_met,
    "lepton_tau": _lepton_tau,
    "lepton_jets": _lepton_jets,
    "dilepton_invisible": _dilepton_invisible,
}


def generate_events(ctx: DemoContext) -> DemoEvents:
    """Events of one file; MC weights are set after the selection (see atlasod.demo.generate)."""
    p = _params(ctx)
    model = MODELS.get(p.get("model", ""))
    if model is None:
        raise ValueError(f"demo.model must be one of {sorted(MODELS)}, not {p.get('model')!r}")
    rng, n = ctx.rng, ctx.n_events
    composition = p.get("composition")
    if composition:  # data fraction of each group; signal = the signal groups'
        fraction = sum(v for g, v in composition.items() if g in p.get("_signal_groups", ()))
    else:
        fraction = float(p["signal_fraction"])
    signal = rng.random(n) < fraction if ctx.sample.is_data else np.full(n, ctx.group_signal)
    columns = model(ctx, signal, p)
    ratio = float(p.get("data_over_mc", 1.0))  # data / MC of the signal groups
    truth: dict[str, Any] = {
        "model": p["model"],
        "mass": p["mass"],
        "width": p["width"],
        "resolution": p["resolution"],
        "data_over_mc": ratio,
    }
    if ctx.sample.is_data:
        truth["signal_events"] = int(np.count_nonzero(signal))
    elif ctx.data_events == 0:  # an analysis of the simulation alone: nothing to match
        columns["mcWeight"] = np.ones(n, dtype=np.float32)
    else:
        # The same generator makes data and MC of a role, so matching the generated yields
        # matches the selected ones whatever the cuts.
        if composition:
            role = float(composition.get(ctx.group, 0.0))
        else:
            role = (fraction if ctx.group_signal else 1 - fraction) / ctx.groups_in_role
        # data / MC of one group (data_over_mc_groups, e.g. the tt̄ x 0.91 of the Z′
        # analysis), else data_over_mc for the signal groups
        group_ratio = p.get("data_over_mc_groups", {}).get(
            ctx.group, ratio if ctx.group_signal else 1.0
        )
        expected = ctx.data_events * role / group_ratio
        columns["mcWeight"] = ctx.mc_weights(n, ctx.tunable_target(expected, 1.0))
    return DemoEvents(columns, truth)
