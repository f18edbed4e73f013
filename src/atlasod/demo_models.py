"""Generic demo physics for analyses without a ``demo.py`` (declarative analyses, templates).

``demo.model`` in ``analysis.yaml`` chooses one:

- ``resonance``: a resonance of ``mass`` (Breit-Wigner ``width`` ⊗ Gaussian ``resolution``)
  decaying to two (``decay: 2``) or four (``decay: 4``, through two Z-like pairs) leptons
  or photons (``objects``), over a continuum falling as exp(−m/``slope``) in
  [``low``, ``high``];
- ``lepton_met``: W-like events, a lepton and a neutrino from a resonance of ``mass`` (the
  Jacobian peak in mT), over a background of a lepton with little missing ET.

Groups with ``signal: true`` get the signal, the other groups the background; data hold a
fraction ``signal_fraction`` of signal events.  MC weights are chosen so that the weighted MC
matches the data.  The truth (events that pass the analysis' own selection) is computed by
the engine after the file is written (a teacher may change the cuts): for these analyses the
selected counts are the selection's own, and what the demo checks is the physics (the fitted
mass, the signal yield).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import vector

from atlasod.demo import (
    DemoContext,
    DemoEvents,
    good_lepton_quality,
    jagged_branches,
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


def _objects(ctx: DemoContext, signal: np.ndarray, p: dict[str, Any]) -> dict[str, Any]:
    rng, n, k = ctx.rng, ctx.n_events, int(p["decay"])
    mass = _masses(rng, signal, p)
    cols = stack_objects(*_decay(rng, mass, k))
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


MODELS = {"resonance": _objects, "lepton_met": _lepton_met}


def generate_events(ctx: DemoContext) -> DemoEvents:
    """Events of one file; MC weights are set after the selection (see atlasod.demo)."""
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
    else:
        # The same generator makes data and MC of a role, so matching the generated yields
        # matches the selected ones whatever the cuts.
        if composition:
            role = float(composition.get(ctx.group, 0.0))
        else:
            role = (fraction if ctx.group_signal else 1 - fraction) / ctx.groups_in_role
        expected = ctx.data_events * role / (ratio if ctx.group_signal else 1.0)
        columns["mcWeight"] = ctx.mc_weights(n, ctx.tunable_target(expected, 1.0))
    return DemoEvents(columns, truth)
