"""The H→γγ, H→ZZ, tt̄, Z′, WZ and H→WW selections written for ROOT's RDataFrame, for the benchmark.

    .venv-root/bin/python benchmarks/rdf_selections.py hyy FILE [--threads N] [--release 2020]

Runs in the ROOT environment (``make root-env``).  Each selection is the one of
``analyses/<name>`` on the file's release: the same objects and cuts, and every histogram the
chunk step fills, under its name, with its binning and condition (the smeared "syst" ones
with the engine's per-event normal numbers, ``atlasod_normal``); for H→γγ in the style of
ROOT's tutorial df104.  RVec expressions, helper functions compiled once with ``Declare``,
the histograms booked lazily and the event loop run once.  ``--release 2020``
(the default) reads the tree ``mini`` in MeV, ``--release 2025e`` the 2025 education
release's tree ``analysis`` in GeV with its branch names (the analyses' ``releases: 2025e:``
blocks; tt̄ the C++ framework's TTbarAnalysis, reference 2025e §6.3.2).  ``--threads 0``
runs one thread; ``N > 0`` enables implicit multi-threading with N threads.  Prints one JSON
line: the event loop's wall time (including RDataFrame's just-in-time compilation of the
graph, not ROOT's start-up), the entries read, the selected events and each histogram's
entries (every fill, under- and overflow included).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

HELPERS = r"""
#include <ROOT/RVec.hxx>
#include <Math/Vector4D.h>
#include <cmath>
using ROOT::RVecF;
using ROOT::RVecI;
using ROOT::RVecU;
using ROOT::RVecB;
using P4 = ROOT::Math::PtEtaPhiEVector;

double atlasod_dphi(double a, double b) {
  double d = std::fabs(a - b);
  d = std::fmod(d, 2 * M_PI);
  return std::min(d, 2 * M_PI - d);
}
double atlasod_myy(const RVecF &pt, const RVecF &eta, const RVecF &phi) {
  double a = pt[0], b = pt[1];
  return std::sqrt(2 * a * b * (std::cosh(double(eta[0]) - eta[1])
                                - std::cos(atlasod_dphi(phi[0], phi[1])))) / 1000.;
}
RVecB atlasod_hzz_good(const RVecF &pt, const RVecF &eta, const RVecF &ptc, const RVecF &etc,
                       const RVecF &d0, const RVecF &sd0, const RVecF &z0, const RVecU &type) {
  RVecB good(pt.size());
  for (size_t i = 0; i < pt.size(); ++i) {
    double p = pt[i], ae = std::fabs(double(eta[i]));
    double ratio = std::fabs(double(d0[i])) / sd0[i];
    double z = std::fabs(z0[i] * std::sin(2 * std::atan(std::exp(-double(eta[i])))));
    bool common = p > 5000 && ae < 2.5 && ptc[i] / p < 0.3 && etc[i] / p < 0.3 && z < 0.5;
    bool ele = type[i] == 11 && p > 7000 && ae < 2.47 && ratio < 5;
    bool mu = type[i] == 13 && ratio < 3;
    good[i] = common && (ele || mu);
  }
  return good;
}
// the four-lepton system [GeV]
P4 atlasod_4l(const RVecF &pt, const RVecF &eta, const RVecF &phi, const RVecF &e) {
  P4 sum;
  for (int i = 0; i < 4; ++i) sum += P4(pt[i] / 1000., eta[i], phi[i], e[i] / 1000.);
  return sum;
}
// physics.event_normal: one standard-normal number per (run, event, salt), SplitMix64 and
// Box-Muller, the engine's bits (the "syst" smearing)
uint64_t atlasod_splitmix(uint64_t z) {
  z += 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}
double atlasod_normal(long long run, long long event, unsigned salt) {
  uint64_t key = (uint64_t(run) << 32) ^ uint64_t(event) ^ (uint64_t(salt) * 0x9E3779B97F4A7C15ULL);
  uint64_t h1 = atlasod_splitmix(key), h2 = atlasod_splitmix(h1);
  double u1 = (double(h1 >> 11) + 0.5) * 0x1p-53, u2 = double(h2 >> 11) * 0x1p-53;
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}
// (m_ll1, m_ll2) of the last valid pairing (the original's quirk), closest to the Z first
ROOT::RVecD atlasod_mll(const RVecF &pt, const RVecF &eta, const RVecF &phi, const RVecF &e,
                        const RVecI &charge, const RVecU &type) {
  const int pairs[3][4] = {{0, 1, 2, 3}, {0, 2, 1, 3}, {0, 3, 1, 2}};
  int sum = type[0] + type[1] + type[2] + type[3];
  bool mixed = sum == 48;
  ROOT::RVecD out{0., 0.};
  for (auto &p : pairs) {
    bool valid = mixed ? type[p[0]] == type[p[1]] : charge[p[0]] != charge[p[1]];
    if (!valid) continue;
    double m1 = (P4(pt[p[0]] / 1000., eta[p[0]], phi[p[0]], e[p[0]] / 1000.)
                 + P4(pt[p[1]] / 1000., eta[p[1]], phi[p[1]], e[p[1]] / 1000.)).M();
    double m2 = (P4(pt[p[2]] / 1000., eta[p[2]], phi[p[2]], e[p[2]] / 1000.)
                 + P4(pt[p[3]] / 1000., eta[p[3]], phi[p[3]], e[p[3]] / 1000.)).M();
    bool first = std::fabs(m1 - 91.18) <= std::fabs(m2 - 91.18);
    out[0] = first ? m1 : m2;
    out[1] = first ? m2 : m1;
  }
  return out;
}
// tight leptons above min_pt [MeV], isolated below iso (tt̄: 30 GeV, 0.15; WZ: 20 GeV,
// 0.15, more-analyses §3.3; H→WW: 15 GeV, 0.1, §5.3)
RVecB atlasod_tight(const RVecB &tight, const RVecF &pt, const RVecF &eta, const RVecF &ptc,
                    const RVecF &etc, const RVecF &d0, const RVecF &sd0, const RVecF &z0,
                    const RVecU &type, double min_pt, double iso) {
  RVecB good(pt.size());
  for (size_t i = 0; i < pt.size(); ++i) {
    double p = pt[i], ae = std::fabs(double(eta[i]));
    double ratio = std::fabs(double(d0[i])) / sd0[i];
    double z = std::fabs(z0[i] * std::sin(2 * std::atan(std::exp(-double(eta[i])))));
    bool base = tight[i] && p > min_pt && ptc[i] / p < iso && etc[i] / p < iso && z < 0.5;
    bool ele = type[i] == 11 && ae < 2.47 && !(ae >= 1.37 && ae <= 1.52) && ratio < 5;
    bool mu = type[i] == 13 && ae < 2.5 && ratio < 3;
    good[i] = base && (ele || mu);
  }
  return good;
}
// WZ: the same-flavour, opposite-charge pair closest to 91.18 GeV (the first in pair order),
// its (m, pT) and mT of the first lepton outside it with the missing ET [GeV]; all -1
// without a pair
ROOT::RVecD atlasod_wz(const RVecF &pt, const RVecF &eta, const RVecF &phi, const RVecF &e,
                       const RVecI &charge, const RVecU &type, float met, float met_phi) {
  const size_t n = pt.size();
  double best = -1;
  size_t bi = 0, bj = 0;
  P4 pair;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j) {
      if (type[i] != type[j] || charge[i] * charge[j] >= 0) continue;
      P4 s = P4(pt[i], eta[i], phi[i], e[i]) + P4(pt[j], eta[j], phi[j], e[j]);
      double d = std::fabs(s.M() / 1000. - 91.18);
      if (best < 0 || d < best) { best = d; bi = i; bj = j; pair = s; }
    }
  if (best < 0) return {-1., -1., -1.};
  size_t w = 0;
  while (w == bi || w == bj) ++w;
  if (w >= n) return {pair.M() / 1000., pair.Pt() / 1000., -1.};
  double mtw = std::sqrt(2. * pt[w] * met * (1 - std::cos(double(phi[w]) - met_phi))) / 1000.;
  return {pair.M() / 1000., pair.Pt() / 1000., mtw};
}
// H→WW: (m_ll, pT_ll, Δφ_ll, Δφ(ll, MET), mT of the dilepton system and the MET) [GeV]
ROOT::RVecD atlasod_ww(const RVecF &pt, const RVecF &eta, const RVecF &phi, const RVecF &e,
                       float met, float met_phi) {
  P4 ll = P4(pt[0] / 1000., eta[0], phi[0], e[0] / 1000.)
          + P4(pt[1] / 1000., eta[1], phi[1], e[1] / 1000.);
  double dphi_met = atlasod_dphi(ll.Phi(), met_phi);
  double mt = std::sqrt(2. * ll.Pt() * met / 1000. * (1 - std::cos(ll.Phi() - met_phi)));
  return {ll.M(), ll.Pt(), atlasod_dphi(phi[0], phi[1]), dphi_met, mt};
}
// (m_jjj, m_jj): the triplet with the largest vector-sum pT, the pair inside it with the
// largest pair pT (first maximum wins); energies divided by `unit` (1000 in 2020, 1 in 2025e)
ROOT::RVecD atlasod_top(const RVecF &pt, const RVecF &eta, const RVecF &phi, const RVecF &e,
                        double unit) {
  const size_t n = pt.size();
  std::vector<P4> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = P4(pt[i] / unit, eta[i], phi[i], e[i] / unit);
  double best = -1;
  size_t bi = 0, bj = 1, bk = 2;
  for (size_t i = 0; i < n; ++i)
    for (size_t j = i + 1; j < n; ++j)
      for (size_t k = j + 1; k < n; ++k) {
        double s = (p[i] + p[j] + p[k]).Pt();
        if (s > best) { best = s; bi = i; bj = j; bk = k; }
      }
  const size_t pairs[3][2] = {{bi, bj}, {bi, bk}, {bj, bk}};
  double best_pt = -1, mjj = 0;
  for (auto &q : pairs) {
    auto s = p[q[0]] + p[q[1]];
    if (s.Pt() > best_pt) { best_pt = s.Pt(); mjj = s.M(); }
  }
  return {(p[bi] + p[bj] + p[bk]).M(), mjj};
}
double atlasod_dr(double eta1, double phi1, double eta2, double phi2) {
  return std::sqrt((eta1 - eta2) * (eta1 - eta2) + std::pow(atlasod_dphi(phi1, phi2), 2));
}
// ΔR of each object from a point below `limit`
RVecB atlasod_dr_below(double eta, double phi, const RVecF &etas, const RVecF &phis,
                       double limit) {
  RVecB out(etas.size());
  for (size_t i = 0; i < etas.size(); ++i) out[i] = atlasod_dr(eta, phi, etas[i], phis[i]) < limit;
  return out;
}
// Z′: (number of top-tagged large-R jets, index of the first) with the tag of
// analyses/zprime (m > 100, 300 < pT < 1500 GeV, |η| < 2, τ32 < 0.75, Δφ(ℓ, J) > 1,
// ΔR(j_ℓ, J) > 1.5, a b-jet within ΔR < 1 or j_ℓ b-tagged)
ROOT::RVecI atlasod_top_tag(const RVecF &pt, const RVecF &eta, const RVecF &phi,
                            const RVecF &m, const RVecF &tau32, double l_phi, double jl_eta,
                            double jl_phi, bool jl_b, const RVecF &b_eta, const RVecF &b_phi) {
  int n = 0, first = -1;
  for (size_t i = 0; i < pt.size(); ++i) {
    bool b_near = jl_b;
    for (size_t k = 0; k < b_eta.size() && !b_near; ++k)
      b_near = atlasod_dr(eta[i], phi[i], b_eta[k], b_phi[k]) < 1.0;
    bool tag = m[i] > 100000 && pt[i] > 300000 && pt[i] < 1500000 && std::fabs(eta[i]) < 2.0
               && tau32[i] < 0.75 && atlasod_dphi(l_phi, phi[i]) > 1.0
               && atlasod_dr(jl_eta, jl_phi, eta[i], phi[i]) > 1.5 && b_near;
    if (tag && first < 0) first = i;
    n += tag;
  }
  return {n, first};
}
// 2025e (GeV): the invariant mass of objects 0 and 1, and of all the objects
double atlasod_pair_mass(const RVecF &pt, const RVecF &eta, const RVecF &phi, const RVecF &e) {
  return (P4(pt[0], eta[0], phi[0], e[0]) + P4(pt[1], eta[1], phi[1], e[1])).M();
}
double atlasod_system_mass(const RVecF &pt, const RVecF &eta, const RVecF &phi,
                           const RVecF &e) {
  P4 sum;
  for (size_t i = 0; i < pt.size(); ++i) sum += P4(pt[i], eta[i], phi[i], e[i]);
  return sum.M();
}
"""


def tight_leptons(min_pt_mev: int, iso: float) -> str:
    """The expression of the 2020 analyses' tight, isolated leptons (atlasod_tight)."""
    return (
        "atlasod_tight(lep_isTightID, lep_pt, lep_eta, lep_ptcone30, lep_etcone20,"
        " lep_trackd0pvunbiased, lep_tracksigd0pvunbiased, lep_z0, lep_type,"
        f" {min_pt_mev}., {iso})"
    )


def exactly(d: Any, n: int, good: str, collection: str, fields: tuple[str, ...]) -> Any:
    """Events with exactly ``n`` objects passing ``good``; their fields as ``g_<field>``."""
    d = d.Define("good", good).Filter(f"Sum(good) == {n}")
    for f in fields:
        d = d.Define(f"g_{f}", f"{collection}_{f}[good]")
    return d


def book(d: Any, specs: list[tuple[Any, ...]]) -> list[Any]:
    """A histogram per ``(name, column, bins, low, high[, condition])`` on ``d`` (those with a
    condition on its events that pass it: a histogram's ``where``); a column of RVecs fills
    each element, as the engine fills a variable per object."""
    out = []
    for name, column, bins, low, high, *where in specs:
        node = d.Filter(where[0]) if where else d
        out.append(node.Histo1D((name, "", bins, low, high), column))
    return out


def define(d: Any, columns: dict[str, str]) -> Any:
    """``d`` with the ``columns`` defined, in order."""
    for name, expr in columns.items():
        d = d.Define(name, expr)
    return d


def lepton_histograms(
    prefix: str, bins: dict[str, tuple[int, float, float]]
) -> list[tuple[Any, ...]]:
    """The six per-lepton histograms (pt, eta, E, phi, charge, type) of a ``prefix``."""
    names = {"pt": "pt", "eta": "eta", "E": "E", "phi": "phi", "charge": "ch", "type": "ID"}
    return [(f"{prefix}{names[f]}", f"lepton_{f}", *bins[f]) for f in names]


def lepton_columns(source: str) -> dict[str, str]:
    """The columns of :func:`lepton_histograms` from ``<source>_<field>`` (MeV to GeV)."""
    gev = ("pt", "E")
    return {
        f"lepton_{f}": f"{source}_{f}" + (" / 1000." if f in gev else "")
        for f in ("pt", "eta", "E", "phi", "charge", "type")
    }


LEPTON_BINS = {
    "eta": (30, -3, 3),
    "phi": (32, -3.2, 3.2),
    "charge": (7, -1.75, 1.75),
    "type": (15, 5.5, 20.5),
}


def hyy(df: Any) -> tuple[Any, list[Any]]:
    good = (
        "photon_isTightID && photon_pt > 25000 && abs(photon_eta) < 2.37"
        " && !(abs(photon_eta) > 1.37 && abs(photon_eta) < 1.52)"
    )
    fields = ("pt", "eta", "phi", "ptcone30", "etcone20", "convType")
    d = exactly(df.Filter("trigP"), 2, good, "photon", fields)
    iso = " && ".join(
        f"g_{c}[{i}] / g_pt[{i}] < 0.065" for i in (0, 1) for c in ("ptcone30", "etcone20")
    )
    d = d.Filter(iso).Define("m_yy", "atlasod_myy(g_pt, g_eta, g_phi)")
    d = d.Define("pt1", "g_pt[0] / 1000.").Define("pt2", "g_pt[1] / 1000.")
    d = d.Filter("pt1 / m_yy > 0.35 && pt2 / m_yy > 0.25").Filter("m_yy > 105 && m_yy < 160")
    central = (
        "abs(g_eta[0]) < 0.75 && abs(g_eta[1]) < 0.75 && g_convType[0] == 0 && g_convType[1] == 0"
    )
    histos = [
        d.Histo1D(("hist_mYY_bin1", "", 30, 105, 160), "m_yy"),
        d.Filter(central).Histo1D(("hist_mYY_cat_bin1", "", 30, 105, 160), "m_yy"),
        d.Histo1D(("hist_leadphoton_pt", "", 30, 30, 180), "pt1"),
        d.Histo1D(("hist_subleadphoton_pt", "", 30, 20, 120), "pt2"),
    ]
    return d, histos


def hzz(df: Any) -> tuple[Any, list[Any]]:
    good = (
        "atlasod_hzz_good(lep_pt, lep_eta, lep_ptcone30, lep_etcone20, lep_trackd0pvunbiased,"
        " lep_tracksigd0pvunbiased, lep_z0, lep_type)"
    )
    fields = ("pt", "eta", "phi", "E", "charge", "type")
    d = exactly(df.Filter("trigE || trigM"), 4, good, "lep", fields)
    d = d.Filter("g_pt[0] > 25000 && g_pt[1] > 15000 && g_pt[2] > 10000")
    d = d.Filter("Sum(g_charge) == 0")
    d = d.Filter("auto s = Sum(g_type); return s == 44 || s == 48 || s == 52;")
    columns = {
        "sys4l": "atlasod_4l(g_pt, g_eta, g_phi, g_E)",
        "m4l": "sys4l.M()",
        "pt4l": "sys4l.Pt()",
        "y4l": "sys4l.Rapidity()",
        "mll": "atlasod_mll(g_pt, g_eta, g_phi, g_E, g_charge, g_type)",
        "mll1": "mll[0]",
        "mll2": "mll[1]",
        "n_jets": "Sum(jet_pt > 30000 && abs(jet_eta) < 4.4)",
        **lepton_columns("g"),
    }
    d = define(d, columns)
    bins = {**LEPTON_BINS, "pt": (5, 0, 200), "eta": (10, -3, 3), "E": (10, 0, 300)}
    specs = [
        ("mass_four_lep", "m4l", 24, 80, 170),
        ("mass_ext_four_lep", "m4l", 30, 80, 250),
        ("hist_mLL1", "mll1", 30, 50, 106),
        ("hist_mLL2", "mll2", 30, 12, 140),
        ("hist_fourlepsys_pt", "pt4l", 20, 0, 200),
        ("hist_fourlepsys_y", "y4l", 20, -3, 3),
        ("hist_n_jets", "n_jets", 4, -0.5, 3.5),
        *lepton_histograms("hist_fourlept", {**bins, "phi": (8, -3.2, 3.2)}),
    ]
    return d, book(d, specs)


def ttbar(df: Any) -> tuple[Any, list[Any]]:
    tight = tight_leptons(30000, 0.15)
    jets = (
        "jet_pt > 30000 && abs(jet_eta) < 2.5"
        " && !(jet_pt < 60000 && abs(jet_eta) < 2.4 && jet_jvt < 0.59)"
    )
    d = df.Filter("jet_n > 3").Filter("met_et > 30000").Filter("trigE || trigM")
    d = d.Define("goodlep", tight).Filter("Sum(goodlep) == 1")
    d = d.Define("goodjet", jets).Filter("Sum(goodjet) >= 4")
    d = d.Define("bjet", "goodjet && jet_MV2c10 > 0.8244273").Filter("Sum(bjet) >= 2")
    d = d.Define("l_pt", "lep_pt[goodlep][0]").Define("l_phi", "lep_phi[goodlep][0]")
    mtw = "sqrt(2. * l_pt * met_et * (1 - cos(double(l_phi) - met_phi))) / 1000."
    d = d.Define("mtw", mtw).Filter("mtw > 30")
    good_jets = "jet_pt[goodjet], jet_eta[goodjet], jet_phi[goodjet]"
    top = f"atlasod_top({good_jets}, jet_E[goodjet], 1000.)"
    columns = {
        "top": top,
        "m_jjj": "top[0]",
        "m_jj": "top[1]",
        "n_jets": "Sum(goodjet)",
        "met": "met_et / 1000.",
        "leadjet_pt": "jet_pt[goodjet][0] / 1000.",
        "leadjet_eta": "jet_eta[goodjet][0]",
        "n_bjets": "Sum(bjet)",
        "leadbjet_pt": "jet_pt[bjet][0] / 1000.",
        "leadbjet_eta": "jet_eta[bjet][0]",
        **{f"lepton_{f}": f"lep_{f}[goodlep][0]" for f in ("eta", "phi", "charge", "type")},
        "lepton_pt": "l_pt / 1000.",
        "lepton_E": "lep_E[goodlep][0] / 1000.",
        # the "syst" smearing (physics.event_normal, salts 1-3)
        "met_syst": "met + met_et_syst / 1000. * atlasod_normal(runNumber, eventNumber, 1)",
        "lepton_pt_syst": (
            "lepton_pt + lep_pt_syst[goodlep][0] / 1000."
            " * atlasod_normal(runNumber, eventNumber, 2)"
        ),
        "leadjet_pt_syst": (
            "leadjet_pt + jet_pt_syst[goodjet][0] / 1000."
            " * atlasod_normal(runNumber, eventNumber, 3)"
        ),
        "mtw_syst": "sqrt(2. * lepton_pt_syst * met_syst * (1 - cos(double(l_phi) - met_phi)))",
    }
    d = define(d, columns)
    syst = "met_syst > 30 && mtw_syst > 30"
    bins = {**LEPTON_BINS, "pt": (20, 0, 200), "E": (30, 0, 300)}
    specs = [
        ("hist_etmiss", "met", 20, 0, 300),
        ("hist_mtw", "mtw", 20, 0, 300),
        ("hist_syst_etmiss", "met_syst", 20, 0, 300, syst),
        ("hist_syst_mtw", "mtw_syst", 20, 0, 300, syst),
        ("hist_n_jets", "n_jets", 5, 3.5, 8.5),
        ("hist_leadjet_pt", "leadjet_pt", 20, 0, 450),
        ("hist_syst_leadjet_pt", "leadjet_pt_syst", 20, 0, 450),
        ("hist_leadjet_eta", "leadjet_eta", 30, -3, 3),
        ("hist_n_bjets", "n_bjets", 3, 1.5, 4.5),
        ("hist_leadbjet_pt", "leadbjet_pt", 20, 0, 350),
        ("hist_leadbjet_eta", "leadbjet_eta", 30, -3, 3),
        ("hist_Topmass", "m_jjj", 40, 100, 250, "m_jjj > 100 && m_jjj < 250"),
        ("hist_Wmass", "m_jj", 40, 50, 120, "m_jj > 50 && m_jj < 120"),
        *lepton_histograms("hist_leadlept", bins),
        ("hist_syst_leadleptpt", "lepton_pt_syst", 20, 0, 200, "lepton_pt_syst > 30"),
    ]
    return d, book(d, specs)


def wz(df: Any) -> tuple[Any, list[Any]]:
    """WZ → ℓν ℓℓ (more-analyses reference §3.3): the Z candidate and the W lepton."""
    good = tight_leptons(20000, 0.15)
    fields = ("pt", "eta", "phi", "E", "charge", "type")
    d = exactly(df.Filter("trigE || trigM"), 3, good, "lep", fields)
    wz = "atlasod_wz(g_pt, g_eta, g_phi, g_E, g_charge, g_type, met_et, met_phi)"
    d = d.Define("wz", wz).Define("mll", "wz[0]").Define("ptll", "wz[1]").Define("mtw", "wz[2]")
    d = d.Filter("wz[0] >= 0 && abs(mll - 91.18) < 10").Filter("mtw > 30")
    d = d.Filter("met_et > 30000").Filter("Max(g_pt) > 25000")
    columns = {
        "met": "met_et / 1000.",
        **lepton_columns("g"),
    }
    d = define(d, columns)
    bins = {**LEPTON_BINS, "pt": (10, 25, 200), "eta": (15, -3, 3), "E": (15, 0, 300)}
    specs = [
        ("hist_mLL", "mll", 20, 76, 106),
        ("hist_ptLL", "ptll", 20, 0, 400),
        ("hist_etmiss", "met", 20, 0, 160),
        ("hist_mtw", "mtw", 20, 0, 200),
        *lepton_histograms("hist_threelept", {**bins, "phi": (16, -3.2, 3.2)}),
    ]
    return d, book(d, specs)


def hww(df: Any) -> tuple[Any, list[Any]]:
    """H → WW* → eν μν (more-analyses reference §5.3): two leptons, the dilepton system."""
    good = tight_leptons(15000, 0.1)
    fields = ("pt", "eta", "phi", "E", "charge", "type")
    d = exactly(df.Filter("trigE || trigM"), 2, good, "lep", fields)
    d = d.Filter("g_pt[0] > 22000").Filter("g_charge[0] * g_charge[1] < 0")
    d = d.Filter("g_type[0] != g_type[1]")
    jets = (
        "jet_pt > 20000 && abs(jet_eta) < 2.5"
        " && !(jet_pt < 60000 && abs(jet_eta) < 2.4 && jet_jvt < 0.59)"
    )
    d = d.Define("goodjet", jets).Define("n_jets", "Sum(goodjet && jet_pt > 30000)")
    d = d.Define("n_bjets", "Sum(goodjet && jet_MV2c10 > 0.1758475)")
    d = d.Define("ww", "atlasod_ww(g_pt, g_eta, g_phi, g_E, met_et, met_phi)")
    d = d.Define("mll", "ww[0]").Define("ptll", "ww[1]").Define("mt", "ww[4]")
    d = d.Define("dphi_ll", "ww[2]").Define("dphi_ll_met", "ww[3]")
    d = d.Define("met", "met_et / 1000.")
    pre = d  # the preselection, where the histI_ twins are filled
    d = d.Filter("mll > 10 && n_jets <= 1 && met > 20").Filter("ww[3] > M_PI / 2")
    d = d.Filter("ptll > 30").Filter("mll < 55").Filter("ww[2] < 1.8").Filter("n_bjets == 0")
    for i, rank in enumerate(("lead", "sublead")):
        d = define(
            d,
            {
                f"{rank}_pt": f"g_pt[{i}] / 1000.",
                f"{rank}_eta": f"g_eta[{i}]",
                f"{rank}_E": f"g_E[{i}] / 1000.",
                f"{rank}_phi": f"g_phi[{i}]",
                f"{rank}_charge": f"g_charge[{i}]",
                f"{rank}_type": f"g_type[{i}]",
            },
        )
    system = [
        ("mLL", "mll", 30, 0, 170),
        ("ptLL", "ptll", 30, 0, 200),
        ("dPhi_LL", "dphi_ll", 20, 0, 3.2),
        ("dPhiLLmet", "dphi_ll_met", 30, 0, 3.2),
        ("etmiss", "met", 20, 0, 200),
        ("mt", "mt", 15, 50, 200),
        ("n_jets", "n_jets", 5, -0.5, 4.5),
        ("n_bjets", "n_bjets", 3, -0.5, 2.5),
    ]
    leptons = [
        ("leadleptpt", "lead_pt", 15, 0, 150),
        ("leadlepteta", "lead_eta", 10, -3, 3),
        ("leadleptE", "lead_E", 15, 0, 250),
        ("leadleptphi", "lead_phi", 16, -3.2, 3.2),
        ("leadleptch", "lead_charge", 7, -1.75, 1.75),
        ("leadleptID", "lead_type", 15, 5.5, 20.5),
        ("subleadleptpt", "sublead_pt", 10, 0, 100),
        ("subleadlepteta", "sublead_eta", 10, -3, 3),
        ("subleadleptE", "sublead_E", 15, 0, 250),
        ("subleadleptphi", "sublead_phi", 10, -3.2, 3.2),
        ("subleadleptch", "sublead_charge", 7, -1.75, 1.75),
        ("subleadleptID", "sublead_type", 15, 5.5, 20.5),
    ]
    histos = book(d, [(f"hist_{name}", *rest) for name, *rest in system + leptons])
    histos += book(pre, [(f"histI_{name}", *rest) for name, *rest in system])
    return d, histos


def zprime(df: Any) -> tuple[Any, list[Any]]:
    """Boosted Z′ → tt̄ (reference §11.3): the cuts of analyses/zprime in its order, the
    large-R jets' histograms after the jet near the lepton, the others after the tag."""
    jets = (
        "jet_pt > 30000 && abs(jet_eta) < 2.5"
        " && !(jet_pt < 60000 && abs(jet_eta) < 2.4 && jet_jvt < 0.59)"
    )
    d = df.Filter("largeRjet_n >= 1").Filter("met_et > 20000").Filter("trigE || trigM")
    d = d.Define("goodlep", tight_leptons(30000, 0.15)).Filter("Sum(goodlep) == 1")
    d = define(d, {f"l_{f}": f"lep_{f}[goodlep][0]" for f in ("pt", "eta", "phi", "E")})
    mtw = "sqrt(2. * l_pt * met_et * (1 - cos(double(l_phi) - met_phi)))"
    d = d.Define("mtw", mtw).Filter("met_et + mtw > 60000")
    d = d.Define("goodjet", jets).Define("bjet", "goodjet && jet_MV2c10 > 0.8244273")
    d = d.Filter("Sum(bjet) >= 1")
    d = d.Define("near", "goodjet && atlasod_dr_below(l_eta, l_phi, jet_eta, jet_phi, 2.0)")
    d = d.Filter("Sum(near) >= 1")
    d = define(d, {f"jl_{f}": f"jet_{f}[near][0]" for f in ("pt", "eta", "phi", "E")})
    d = d.Define("jl_b", "jet_MV2c10[near][0] > 0.8244273")
    lead = "largeRjet_m > 50000 && largeRjet_pt > 250000 && abs(largeRjet_eta) < 2"
    d = d.Define("lr", lead)
    lr_columns = {
        "lr_pt": "largeRjet_pt[lr] / 1000.",
        "lr_eta": "largeRjet_eta[lr]",
        "lr_phi": "largeRjet_phi[lr]",
        "lr_m": "largeRjet_m[lr] / 1000.",
        "lr_tau32": "largeRjet_tau32[lr]",
        "lr_n": "ROOT::RVecI(lr_pt.size(), largeRjet_n)",  # largeRjet_n once per such jet
    }
    stage = define(d, lr_columns)
    tag = (
        "atlasod_top_tag(largeRjet_pt, largeRjet_eta, largeRjet_phi, largeRjet_m,"
        " largeRjet_tau32, l_phi, jl_eta, jl_phi, jl_b, jet_eta[bjet], jet_phi[bjet])"
    )
    d = d.Define("tag", tag).Filter("tag[0] == 1")
    m_tt = (
        "auto t = tag[1]; return (P4(largeRjet_pt[t], largeRjet_eta[t], largeRjet_phi[t],"
        " largeRjet_E[t]) + P4(jl_pt, jl_eta, jl_phi, jl_E) + P4(l_pt, l_eta, l_phi, l_E)).M()"
        " / 1000.;"
    )
    columns = {
        "m_tt": m_tt,
        "met": "met_et / 1000.",
        "mtw_gev": "mtw / 1000.",
        "lepton_pt": "l_pt / 1000.",
        "lepton_eta": "l_eta",
        "lepton_E": "l_E / 1000.",
        **{f"lepton_{f}": f"lep_{f}[goodlep][0]" for f in ("phi", "charge", "type")},
        "n_near": "Sum(near)",
        "jl_pt_gev": "jl_pt / 1000.",
        "n_bjets": "Sum(bjet)",
        "leadbjet_pt": "jet_pt[bjet][0] / 1000.",
        "leadbjet_eta": "jet_eta[bjet][0]",
        "n_top": "tag[0]",
        "top_pt": "largeRjet_pt[tag[1]] / 1000.",
        "top_eta": "largeRjet_eta[tag[1]]",
        "top_phi": "largeRjet_phi[tag[1]]",
        "top_m": "largeRjet_m[tag[1]] / 1000.",
        "top_tau32": "largeRjet_tau32[tag[1]]",
        "top_pt_syst": (
            "top_pt + largeRjet_pt_syst[tag[1]] / 1000. * atlasod_normal(runNumber, eventNumber, 4)"
        ),
    }
    d = define(d, columns)
    bins = {**LEPTON_BINS, "pt": (20, 0, 400), "E": (30, 0, 500)}
    specs = [
        ("hist_etmiss", "met", 30, 0, 400),
        ("hist_mtw", "mtw_gev", 30, 0, 250),
        *lepton_histograms("hist_leadlept", bins),
        ("hist_n_jets", "n_near", 4, -0.5, 3.5),
        ("hist_leadjet_pt", "jl_pt_gev", 20, 0, 400),
        ("hist_leadjet_eta", "jl_eta", 30, -3, 3),
        ("hist_n_bjets", "n_bjets", 4, -0.5, 3.5),
        ("hist_leadbjet_pt", "leadbjet_pt", 20, 0, 400),
        ("hist_leadbjet_eta", "leadbjet_eta", 30, -3, 3),
        ("hist_n_TopLRjets", "n_top", 4, -0.5, 3.5),
        ("hist_leadTopLRjet_pt", "top_pt", 30, 250, 700),
        ("hist_leadTopLRjet_eta", "top_eta", 20, -3, 3),
        ("hist_leadTopLRjet_phi", "top_phi", 12, -3.2, 3.2),
        ("hist_leadTopLRjet_m", "top_m", 25, 100, 250),
        ("hist_leadTopLRjet_tau32", "top_tau32", 20, 0, 1),
        ("hist_leadTopLRjet_syst_pt", "top_pt_syst", 30, 250, 700, "top_pt_syst > 300"),
        ("hist_ttbarMLR", "m_tt", 20, 400, 1600, "jl_b"),
    ]
    lr_specs = [
        ("hist_n_leadLRjets", "lr_n", 4, -0.5, 3.5),
        ("hist_leadLRjet_pt", "lr_pt", 30, 250, 700),
        ("hist_leadLRjet_eta", "lr_eta", 20, -3, 3),
        ("hist_leadLRjet_phi", "lr_phi", 12, -3.2, 3.2),
        ("hist_leadLRjet_m", "lr_m", 30, 50, 250),
        ("hist_leadLRjet_tau32", "lr_tau32", 20, 0, 1),
    ]
    return d, book(d, specs) + book(stage, lr_specs)


# --- the 2025 education release (tree `analysis`, GeV) ---------------------------------
# Each cut as analyses/<name>/analysis.yaml's `releases: 2025e:` block writes it (values per
# object are float32 in the files; ratios are computed in double, as the engine computes).


def hyy_2025e(df: Any) -> tuple[Any, list[Any]]:
    """H→γγ on 2025e (reference 2025e §6.1): the first two photons, no trigger."""
    d = df.Filter("photon_isTightID.size() > 1 && photon_isTightID[0] && photon_isTightID[1]")
    d = d.Filter("photon_pt[0] > 50 && photon_pt[1] > 30")
    iso = " && ".join(f"double(photon_ptcone20[{i}]) / photon_pt[{i}] < 0.055" for i in (0, 1))
    crack = (
        "auto a0 = std::abs(photon_eta[0]), a1 = std::abs(photon_eta[1]);"
        " return !(a0 > 1.37 && a0 < 1.52) && !(a1 > 1.37 && a1 < 1.52)"
        " && a0 < 2.37 && a1 < 2.37;"
    )
    d = d.Filter(iso).Filter(crack)
    d = d.Define("m_yy", "atlasod_pair_mass(photon_pt, photon_eta, photon_phi, photon_e)")
    d = d.Filter("m_yy > 0")
    d = d.Define("pt1", "double(photon_pt[0])").Define("pt2", "double(photon_pt[1])")
    d = d.Filter("pt1 / m_yy > 0.35 && pt2 / m_yy > 0.35").Filter("m_yy > 100 && m_yy < 160")
    central = "std::abs(photon_eta[0]) < 0.75 && std::abs(photon_eta[1]) < 0.75"
    histos = [
        d.Histo1D(("hist_mYY_bin1", "", 60, 100, 160), "m_yy"),
        d.Filter(central).Histo1D(("hist_mYY_cat_bin1", "", 60, 100, 160), "m_yy"),
        d.Histo1D(("hist_leadphoton_pt", "", 30, 50, 200), "pt1"),
        d.Histo1D(("hist_subleadphoton_pt", "", 30, 30, 130), "pt2"),
    ]
    return d, histos


def hzz_2025e(df: Any) -> tuple[Any, list[Any]]:
    """H→ZZ*→4ℓ on 2025e (reference 2025e §6.2, the 2025 notebook's selection)."""
    good = (
        "(lep_type == 13 && lep_isMediumID && lep_isLooseIso)"
        " || (lep_type == 11 && lep_isLooseID && lep_isLooseIso)"
    )
    d = df.Filter("trigE || trigM").Filter("Any(lep_isTrigMatched)")
    d = d.Filter("lep_pt.size() > 2 && lep_pt[0] > 20 && lep_pt[1] > 15 && lep_pt[2] > 10")
    d = exactly(d, 4, good, "lep", ("pt", "eta", "phi", "e", "charge", "type"))
    d = d.Filter("auto s = Sum(g_type); return s == 44 || s == 48 || s == 52;")
    d = d.Filter("Sum(g_charge) == 0")
    d = d.Define("m4l", "atlasod_system_mass(g_pt, g_eta, g_phi, g_e)")
    d = d.Define("lep1_pt", "double(lep_pt[0])")
    histos = [
        d.Histo1D(("mass_four_lep", "", 68, 80, 250), "m4l"),
        d.Histo1D(("hist_lep1_pt", "", 20, 0, 200), "lep1_pt"),
    ]
    return d, histos


def ttbar_2025e(df: Any) -> tuple[Any, list[Any]]:
    """tt̄ on 2025e: the C++ framework's TTbarAnalysis (reference 2025e §6.3.2)."""
    tight = (
        "lep_isTightID && lep_isTightIso && lep_isTrigMatched && lep_pt > 30"
        " && ((lep_type == 11 && abs(lep_eta) < 2.47"
        " && !(abs(lep_eta) >= 1.37 && abs(lep_eta) <= 1.52))"
        " || (lep_type == 13 && abs(lep_eta) < 2.5))"
    )
    d = df.Filter("jet_n > 3").Filter("met > 30").Filter("trigE || trigM")
    d = d.Define("goodlep", tight).Filter("Sum(goodlep) == 1")
    d = d.Define("goodjet", "jet_pt > 30 && abs(jet_eta) < 2.5 && jet_jvt")
    d = d.Filter("Sum(goodjet) >= 4")
    d = d.Define("bjet", "goodjet && jet_btag_quantile >= 4").Filter("Sum(bjet) >= 2")
    d = d.Define("l_pt", "lep_pt[goodlep][0]").Define("l_phi", "lep_phi[goodlep][0]")
    mtw = "sqrt(2. * l_pt * met * (1 - cos(double(l_phi) - met_phi)))"
    d = d.Define("mtw", mtw).Filter("mtw > 30")
    good_jets = "jet_pt[goodjet], jet_eta[goodjet], jet_phi[goodjet]"
    top = f"atlasod_top({good_jets}, jet_e[goodjet], 1.)"
    columns = {
        "top": top,
        "m_jjj": "top[0]",
        "m_jj": "top[1]",
        "n_jets": "Sum(goodjet)",
        "met_gev": "double(met)",
        "leadjet_pt": "double(jet_pt[goodjet][0])",
        "leadjet_eta": "jet_eta[goodjet][0]",
        "n_bjets": "Sum(bjet)",
        "leadbjet_pt": "double(jet_pt[bjet][0])",
        "leadbjet_eta": "jet_eta[bjet][0]",
        "lepton_pt": "double(l_pt)",
        "lepton_E": "double(lep_e[goodlep][0])",
        **{f"lepton_{f}": f"lep_{f}[goodlep][0]" for f in ("eta", "phi", "charge")},
        "lepton_type": "abs(lep_type[goodlep][0])",
    }
    d = define(d, columns)
    bins = {**LEPTON_BINS, "pt": (20, 0, 200), "E": (30, 0, 300)}
    specs = [
        ("hist_etmiss", "met_gev", 20, 0, 300),
        ("hist_mtw", "mtw", 20, 0, 300),
        ("hist_n_jets", "n_jets", 5, 3.5, 8.5),
        ("hist_leadjet_pt", "leadjet_pt", 20, 0, 450),
        ("hist_leadjet_eta", "leadjet_eta", 30, -3, 3),
        ("hist_n_bjets", "n_bjets", 3, 1.5, 4.5),
        ("hist_leadbjet_pt", "leadbjet_pt", 20, 0, 350),
        ("hist_leadbjet_eta", "leadbjet_eta", 30, -3, 3),
        ("hist_Topmass", "m_jjj", 40, 100, 250, "m_jjj > 100 && m_jjj < 250"),
        ("hist_Wmass", "m_jj", 40, 50, 120, "m_jj > 50 && m_jj < 120"),
        *lepton_histograms("hist_leadlept", bins),
    ]
    return d, book(d, specs)


# per release: its tree and its selections
TREES = {"2020": "mini", "2025e": "analysis"}
SELECTIONS = {
    "2020": {"hyy": hyy, "hzz": hzz, "ttbar": ttbar, "zprime": zprime, "wz": wz, "hww": hww},
    "2025e": {"hyy": hyy_2025e, "hzz": hzz_2025e, "ttbar": ttbar_2025e},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("analysis", choices=sorted(SELECTIONS["2020"]))
    parser.add_argument("file")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--release", default="2020", choices=sorted(SELECTIONS))
    args = parser.parse_args()
    import ROOT  # the ROOT environment only

    ROOT.gROOT.SetBatch(True)
    if args.threads > 0:
        ROOT.EnableImplicitMT(args.threads)
    if not ROOT.gInterpreter.Declare(HELPERS):
        raise SystemExit("rdf_selections: the helpers did not compile")
    df = ROOT.RDataFrame(TREES[args.release], args.file)
    entries = df.Count()
    final, histos = SELECTIONS[args.release][args.analysis](df)
    selected = final.Count()
    t0 = time.perf_counter()
    n = entries.GetValue()  # runs the event loop once for everything booked
    seconds = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "analysis": args.analysis,
                "threads": args.threads,
                "seconds": seconds,
                "entries": int(n),
                "selected": int(selected.GetValue()),
                "histogram_entries": {h.GetName(): int(h.GetEntries()) for h in histos},
            }
        )
    )


if __name__ == "__main__":
    main()
