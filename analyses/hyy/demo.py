"""Demo physics for H → γγ: a Gaussian Higgs peak over a falling diphoton continuum.

Data events are a background with m(γγ) ∝ exp(-m/slope) in the mass window plus a
fraction ``signal_fraction`` of Higgs events at ``higgs_mass`` with Gaussian
resolution ``mass_resolution``.  A fraction ``fail_fraction`` of all events is
then made to fail exactly one selection cut, so the number that pass is known.
MC samples hold only Higgs events, weighted so that the MC matches the signal
injected in data.

What the selection asks for differs between releases (analysis.yaml's ``demo`` block,
per release): the mass window and the margin kept from its edges, the photon acceptance
(pT/m and pT thresholds) and the cuts an event can be made to fail (``fail_modes``:
trigger, tight_id, crack, track_isolation, calo_isolation, mass_window).  Columns are
written in the 2020 schema (MeV); the generator converts them to the release's.
"""

from __future__ import annotations

import numpy as np

from atlasod.demo.kinematics import (
    DemoContext,
    DemoEvents,
    resonance,
    stack_objects,
    truncated_exponential,
    two_body_decay,
)

# The 2020 selection's (reference 2020 §10): the defaults of the demo block.
FAIL_MODES = (
    "trigger",
    "tight_id",
    "crack",
    "track_isolation",
    "calo_isolation",
    "mass_window",
)
ACCEPTANCE = {"lead_pt_over_m": 0.35, "sub_pt_over_m": 0.25, "lead_pt": 25.0, "sub_pt": 25.0}
WINDOW = (105.0, 160.0)


def _accepted(d1: object, d2: object, m: np.ndarray, cuts: dict[str, float]) -> np.ndarray:
    pts = np.stack([np.asarray(d1.pt), np.asarray(d2.pt)], axis=1)
    etas = np.abs(np.stack([np.asarray(d1.eta), np.asarray(d2.eta)], axis=1))
    lead, sub = pts.max(axis=1), pts.min(axis=1)
    ok_eta = np.all((etas < 2.27) & ((etas < 1.32) | (etas > 1.57)), axis=1)
    # small margins keep float32 rounding away from the cut values
    return (
        ok_eta
        & (lead / m > cuts["lead_pt_over_m"] + 0.01)
        & (sub / m > cuts["sub_pt_over_m"] + 0.01)
        & (sub > cuts["sub_pt"] + 1)
        & (lead > cuts["lead_pt"] + 1)
    )


def diphotons(ctx: DemoContext, mass: np.ndarray, cuts: dict[str, float]) -> dict[str, np.ndarray]:
    """Photon pairs from decays of parents of the given masses, inside the acceptance."""
    n = len(mass)
    cols: dict[str, np.ndarray] = {}
    todo = np.arange(n)
    out = {k: np.zeros((n, 2)) for k in ("pt", "eta", "phi", "E")}
    for _ in range(200):
        if len(todo) == 0:
            break
        parent = resonance(ctx.rng, mass[todo], pt_scale=30.0, eta_sigma=0.8)
        d1, d2 = two_body_decay(ctx.rng, parent, 0.0, 0.0)
        ok = _accepted(d1, d2, mass[todo], cuts)
        objs = stack_objects(d1, d2)
        for k, column in out.items():
            column[todo[ok]] = objs[k][ok]
        todo = todo[~ok]
    if len(todo):
        raise RuntimeError(f"could not generate {len(todo)} accepted diphoton events")
    cols = {f"photon_{k}": v for k, v in out.items()}
    return cols


def generate_events(ctx: DemoContext) -> DemoEvents:
    p, rng, n = ctx.params, ctx.rng, ctx.n_events
    is_signal = np.ones(n, dtype=bool)
    if ctx.sample.is_data:
        is_signal = rng.random(n) < p["signal_fraction"]
    low, high = (float(v) for v in p.get("window", WINDOW))
    modes = tuple(p.get("fail_modes", FAIL_MODES))
    mass = np.where(
        is_signal,
        rng.normal(p["higgs_mass"], p["mass_resolution"], n),
        truncated_exponential(rng, n, low, high, p["background_slope"]),
    )
    # stay clear of the window's edges (float32 rounding); the events beyond are put there,
    # so the margin must be small beside the histogram's bins
    margin = float(p.get("edge_margin", 1.0))
    mass = np.clip(mass, low + margin, high - margin)
    cols = diphotons(ctx, mass, {**ACCEPTANCE, **p.get("acceptance", {})})
    cols["photon_isTightID"] = np.ones((n, 2), dtype=bool)
    cols["photon_ptcone30"] = cols["photon_pt"] * rng.uniform(0, 0.03, (n, 2))
    cols["photon_etcone20"] = cols["photon_pt"] * rng.uniform(-0.02, 0.03, (n, 2))
    cols["photon_convType"] = np.where(rng.random((n, 2)) < 0.6, 0, rng.integers(1, 6, (n, 2)))
    cols["photon_trigMatched"] = np.ones((n, 2), dtype=bool)
    cols["photon_truthMatched"] = np.full((n, 2), not ctx.sample.is_data)
    cols["photon_pt_syst"] = cols["photon_pt"] * 0.01
    trig = np.ones(n, dtype=bool)

    # Make a known fraction fail exactly one cut each.
    fail = rng.random(n) < p["fail_fraction"]
    mode = rng.integers(0, len(modes), n)
    which = rng.integers(0, 2, n)
    rows = np.flatnonzero(fail)
    for i in rows:
        j = which[i]
        match modes[mode[i]]:
            case "trigger":
                trig[i] = False
            case "tight_id":
                cols["photon_isTightID"][i, j] = False
            case "crack":
                cols["photon_eta"][i, j] = np.copysign(1.45, cols["photon_eta"][i, j])
            case "track_isolation":
                cols["photon_ptcone30"][i, j] = 0.2 * cols["photon_pt"][i, j]
            case "calo_isolation":
                cols["photon_etcone20"][i, j] = 0.2 * cols["photon_pt"][i, j]
            case "mass_window":  # scale both pT: pT/m is kept, m moves out of the window
                target = (
                    rng.uniform(low - 25, low - 5)
                    if rng.random() < 0.5
                    else rng.uniform(high + 5, high + 40)
                )
                cols["photon_pt"][i] *= target / mass[i]
            case other:
                raise ValueError(f"demo.fail_modes: unknown mode {other!r}; modes: {FAIL_MODES}")
    cols["photon_E"] = cols["photon_pt"] * np.cosh(cols["photon_eta"])
    passed = ~fail
    central = np.all(np.abs(cols["photon_eta"]) < 0.75, axis=1)
    unconverted = np.all(cols["photon_convType"] == 0, axis=1)
    columns: dict[str, object] = {**cols, "trigP": trig}
    truth: dict[str, object] = {
        "selected": int(np.count_nonzero(passed)),
        "selected_central_unconverted": int(np.count_nonzero(passed & central & unconverted)),
        "selected_central": int(np.count_nonzero(passed & central)),
        "higgs_mass": p["higgs_mass"],
        "mass_resolution": p["mass_resolution"],
    }
    if ctx.sample.is_data:
        truth["signal_selected"] = int(np.count_nonzero(passed & is_signal))
        columns["met_et"] = rng.exponential(15000.0, n)
    else:
        signal_in_data = ctx.data_events * p["signal_fraction"] * (1 - p["fail_fraction"])
        target = ctx.tunable_target(signal_in_data, 1 - p["fail_fraction"])
        columns["mcWeight"] = ctx.mc_weights(int(np.count_nonzero(passed)), target)
        for sf in (f for f in ctx.weight_factors if f != "mcWeight"):  # the analysis' factors
            columns[sf] = (1 + 0.02 * rng.standard_normal(n)).astype(np.float32)
        truth["weighted_selected"] = ctx.weighted_yield(columns, passed)
    return DemoEvents(columns, truth)
