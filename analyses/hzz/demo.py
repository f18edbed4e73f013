"""Demo physics for H → ZZ* → 4ℓ.

Every event is a four-lepton system decaying through two Z bosons (one off shell
below threshold), with a flavour channel 4e, 4μ or 2e2μ:

- Higgs: m(4ℓ) Gaussian at ``higgs_mass`` with resolution ``mass_resolution``;
- ZZ: a single-resonant Z → 4ℓ peak at 91 GeV plus the on-shell ZZ continuum above 182 GeV
  and a flat part in between;
- Other (Z+jets, tt̄, ...): a falling m(4ℓ) spectrum, mostly failing the selection.

All leptons are generated inside the acceptance; then a known fraction of each group
(``fail_fraction``) is made to fail exactly one cut, so the selected yields are known.
Data are a mixture of the groups (``composition``); MC weights are chosen so that the
MC matches the data (ZZ data = ``zz_k_factor`` x ZZ MC).

The cuts an event can be made to fail differ between releases (analysis.yaml's ``demo``
block, per release: ``fail_modes`` among FAIL_MODES), as do the lepton working-point flags
every lepton carries (``lepton_flags``, e.g. 2025e's isMediumID; ``lepton_id`` makes one
lepton fail the first).  Columns are written in the 2020 schema (MeV); the generator
converts them to the release's.
"""

from __future__ import annotations

import awkward as ak
import numpy as np

from atlasod.demo.kinematics import (
    DemoContext,
    DemoEvents,
    resonance,
    stack_objects,
    truncated_exponential,
    two_body_decay,
)

Z_MASS = 91.19
GROUPS = ("Higgs", "ZZ", "Other")
# The 2020 selection's (selection.py): the default of the demo block.
FAIL_MODES = (
    "trigger",
    "isolation",
    "impact_parameter",
    "charge",
    "fifth_lepton",
    "flavour",
    "lepton_id",
)


def four_lepton_mass(rng: np.random.Generator, group: str, n: int, p: dict) -> np.ndarray:
    if group == "Higgs":
        return rng.normal(p["higgs_mass"], p["mass_resolution"], n)
    if group == "ZZ":
        kind = rng.random(n)
        return np.select(
            [kind < 0.25, kind < 0.35],
            [rng.normal(Z_MASS, 2.0, n), rng.uniform(100, 182, n)],
            182 + rng.exponential(60.0, n),
        )
    return truncated_exponential(rng, n, 80.0, 400.0, 60.0)


def z_masses(rng: np.random.Generator, m4l: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masses of the two Z (one possibly off shell) with m1 + m2 < m4l."""
    n = len(m4l)
    on_shell = m4l > 2 * Z_MASS + 2
    m1 = np.where(
        on_shell, rng.normal(Z_MASS, 2.5, n), np.minimum(rng.normal(Z_MASS, 2.5, n), m4l - 14)
    )
    m1 = np.clip(m1, 0.55 * m4l, None)
    m1 = np.where(m4l < 110, rng.uniform(0.5, 0.75, n) * m4l, m1)
    m2 = np.where(on_shell, rng.normal(Z_MASS, 2.5, n), rng.uniform(0.3, 0.95, n) * (m4l - m1))
    m2 = np.minimum(m2, m4l - m1 - 0.5)
    return m1, np.clip(m2, 4.0, None)


def leptons(ctx: DemoContext, group: str, n: int) -> dict[str, np.ndarray]:
    """pT-ordered columns of four leptons inside the acceptance (GeV->MeV done by stack_objects)."""
    rng, p = ctx.rng, ctx.params
    out = {k: np.zeros((n, 4)) for k in ("pt", "eta", "phi", "E", "charge", "type")}
    todo = np.arange(n)
    for _ in range(500):
        if len(todo) == 0:
            break
        m = len(todo)
        m4l = np.clip(four_lepton_mass(rng, group, m, p), 40.0, 1000.0)
        m1, m2 = z_masses(rng, m4l)
        system = resonance(rng, m4l, pt_scale=25.0, eta_sigma=1.0)
        z1, z2 = two_body_decay(rng, system, m1, m2)
        l1, l2 = two_body_decay(rng, z1, 0.0, 0.0)
        l3, l4 = two_body_decay(rng, z2, 0.0, 0.0)
        channel = rng.random(m)
        f1 = np.where(channel < 0.5, 11, 13)
        f2 = np.where(channel < 0.25, 11, np.where(channel < 0.75, 13, 11))
        ftype = np.stack([f1, f1, f2, f2], axis=1)
        sign = np.where(rng.random(m) < 0.5, 1, -1)
        sign2 = np.where(rng.random(m) < 0.5, 1, -1)
        charge = np.stack([sign, -sign, sign2, -sign2], axis=1)
        cols = stack_objects(l1, l2, l3, l4)
        order = cols.pop("order")
        ftype = np.take_along_axis(ftype, order, axis=1)
        charge = np.take_along_axis(charge, order, axis=1)
        pt = cols["pt"] / 1000
        eta = np.abs(cols["eta"])
        min_pt = np.where(ftype == 11, 8.0, 6.0)
        ok = (
            np.all((eta < 2.4) & (pt > min_pt), axis=1)
            & (pt[:, 0] > 26)
            & (pt[:, 1] > 16)
            & (pt[:, 2] > 11)
        )
        sel = todo[ok]
        for k, v in (*cols.items(), ("charge", charge), ("type", ftype)):
            out[k][sel] = v[ok]
        todo = todo[~ok]
    if len(todo):
        raise RuntimeError(f"could not generate {len(todo)} four-lepton events in the acceptance")
    return out


def generate_group(
    ctx: DemoContext, group: str, n: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Columns of ``n`` events of one group and the mask of those that pass.

    Lepton columns have shape (n, 5); ``count`` (4 or 5) says how many slots are used.
    """
    rng, p = ctx.rng, ctx.params
    lep = leptons(ctx, group, n)
    cols = {k: np.zeros((n, 5)) for k in lep}
    for k, v in lep.items():
        cols[k][:, :4] = v
    count = np.full(n, 4)
    pt = cols["pt"]
    cols["ptcone30"] = pt * rng.uniform(0, 0.1, (n, 5))
    cols["etcone20"] = pt * rng.uniform(-0.05, 0.1, (n, 5))
    sig = rng.uniform(0.01, 0.03, (n, 5))
    cols["tracksigd0pvunbiased"] = sig
    cols["trackd0pvunbiased"] = sig * rng.uniform(-2, 2, (n, 5))
    cols["z0"] = rng.uniform(-0.3, 0.3, (n, 5))
    trig_e = np.any(cols["type"][:, :4] == 11, axis=1)
    trig_m = np.any(cols["type"][:, :4] == 13, axis=1)

    flags = {f: np.ones((n, 5), dtype=bool) for f in p.get("lepton_flags", [])}
    modes = tuple(p.get("fail_modes", FAIL_MODES[:6]))
    fail = rng.random(n) < p["fail_fraction"][group]
    mode = rng.integers(0, len(modes), n)
    which = rng.integers(0, 4, n)
    for i in np.flatnonzero(fail):
        j = which[i]
        match modes[mode[i]]:
            case "trigger":
                trig_e[i] = trig_m[i] = False
            case "isolation":
                cols["ptcone30"][i, j] = 0.5 * pt[i, j]
            case "impact_parameter":
                cols["trackd0pvunbiased"][i, j] = 10 * cols["tracksigd0pvunbiased"][i, j]
            case "charge":
                cols["charge"][i, j] *= -1
            case "lepton_id":  # one lepton fails the first working point: three are good
                flags[next(iter(flags))][i, j] = False
            case "fifth_lepton":  # a fifth good lepton (a soft muon): "exactly four" fails
                cols["pt"][i, 4], cols["eta"][i, 4], cols["phi"][i, 4] = 6000.0, 0.3, 1.0
                cols["E"][i, 4] = 6000.0 * np.cosh(0.3)
                cols["charge"][i, 4], cols["type"][i, 4] = 1, 13
                count[i] = 5
            case "flavour":  # flavour sum outside {44, 48, 52}
                cols["type"][i, j] = 24 - cols["type"][i, j]
            case other:
                raise ValueError(f"demo.fail_modes: unknown mode {other!r}; modes: {FAIL_MODES}")
    cols.update({f"flag_{f}": v for f, v in flags.items()})
    cols["count"], cols["trigE"], cols["trigM"] = count, trig_e, trig_m
    return cols, ~fail


def generate_events(ctx: DemoContext) -> DemoEvents:
    rng, p, n = ctx.rng, ctx.params, ctx.n_events
    if ctx.sample.is_data:
        labels = rng.choice(len(GROUPS), size=n, p=[p["composition"][g] for g in GROUPS])
    else:
        assert ctx.group in GROUPS, f"demo model has no group {ctx.group}"
        labels = np.full(n, GROUPS.index(ctx.group))
    full: dict[str, np.ndarray] = {}
    passed = np.zeros(n, dtype=bool)
    for k, group in enumerate(GROUPS):
        idx = np.flatnonzero(labels == k)
        if len(idx) == 0:
            continue
        cols, ok = generate_group(ctx, group, len(idx))
        passed[idx] = ok
        for key, values in cols.items():
            full.setdefault(key, np.zeros((n, *values.shape[1:]), dtype=values.dtype))[idx] = values
    slots = np.arange(5) < full["count"][:, None]
    counts = full["count"]
    columns: dict[str, object] = {"trigE": full["trigE"], "trigM": full["trigM"]}
    for key in (
        "pt",
        "eta",
        "phi",
        "E",
        "charge",
        "type",
        "ptcone30",
        "etcone20",
        "tracksigd0pvunbiased",
        "trackd0pvunbiased",
        "z0",
    ):
        columns[f"lep_{key}"] = ak.unflatten(full[key][slots], counts)
    columns["lep_isTightID"] = ak.unflatten(np.ones(int(counts.sum()), dtype=bool), counts)
    for flag in p.get("lepton_flags", []):
        columns[f"lep_{flag}"] = ak.unflatten(full[f"flag_{flag}"][slots], counts)
    columns["lep_pt_syst"] = ak.unflatten(0.01 * full["pt"][slots], counts)
    n_jets = rng.integers(0, 4, n)
    n_total = int(n_jets.sum())
    jet_pt = rng.uniform(30e3, 100e3, n_total)
    jet_eta = rng.uniform(-2.4, 2.4, n_total)
    jets = ak.unflatten(
        ak.zip(
            {
                "pt": jet_pt,
                "eta": jet_eta,
                "phi": rng.uniform(-np.pi, np.pi, n_total),
                "E": jet_pt * np.cosh(jet_eta),
            }
        ),
        n_jets,
    )
    jets = jets[ak.argsort(jets.pt, ascending=False)]  # ntuple order: leading first
    for key in ("pt", "eta", "phi", "E"):
        columns[f"jet_{key}"] = jets[key]
    truth: dict[str, object] = {
        "selected": int(np.count_nonzero(passed)),
        "higgs_mass": p["higgs_mass"],
    }
    if ctx.sample.is_data:
        for k, group in enumerate(GROUPS):
            truth[f"selected_{group}"] = int(np.count_nonzero(passed & (labels == k)))
    else:
        pass_fraction = 1 - p["fail_fraction"][ctx.group]
        expected = ctx.data_events * p["composition"][ctx.group] * pass_fraction
        if ctx.group == "ZZ":
            expected /= p["zz_k_factor"]
        target = ctx.tunable_target(expected, pass_fraction)
        columns["mcWeight"] = ctx.mc_weights(int(np.count_nonzero(passed)), target)
        for sf in (f for f in ctx.weight_factors if f != "mcWeight"):  # the analysis' factors
            columns[sf] = (1 + 0.02 * rng.standard_normal(n)).astype(np.float32)
        truth["weighted_selected"] = ctx.weighted_yield(columns, passed)
    return DemoEvents(columns, truth)
