"""The H→γγ, H→ZZ and tt̄ selections written for ROOT's RDataFrame, for the benchmark.

    .venv-root/bin/python benchmarks/rdf_selections.py hyy FILE [--threads N]

Runs in the ROOT environment (``make root-env``).  Each selection is the one of
``analyses/<name>`` (same objects, cuts and histograms; for H→γγ in the style of ROOT's
tutorial df104): RVec expressions, helper functions compiled once with ``Declare``, the
histograms booked lazily and the event loop run once.  ``--threads 0`` runs one thread;
``N > 0`` enables implicit multi-threading with N threads.  Prints one JSON line: the
event loop's wall time (including RDataFrame's just-in-time compilation of the graph, not
ROOT's start-up), the entries read and the selected events.
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
double atlasod_m4l(const RVecF &pt, const RVecF &eta, const RVecF &phi, const RVecF &e) {
  P4 sum;
  for (int i = 0; i < 4; ++i) sum += P4(pt[i] / 1000., eta[i], phi[i], e[i] / 1000.);
  return sum.M();
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
RVecB atlasod_tight(const RVecB &tight, const RVecF &pt, const RVecF &eta, const RVecF &ptc,
                    const RVecF &etc, const RVecF &d0, const RVecF &sd0, const RVecF &z0,
                    const RVecU &type) {
  RVecB good(pt.size());
  for (size_t i = 0; i < pt.size(); ++i) {
    double p = pt[i], ae = std::fabs(double(eta[i]));
    double ratio = std::fabs(double(d0[i])) / sd0[i];
    double z = std::fabs(z0[i] * std::sin(2 * std::atan(std::exp(-double(eta[i])))));
    bool base = tight[i] && p > 30000 && ptc[i] / p < 0.15 && etc[i] / p < 0.15 && z < 0.5;
    bool ele = type[i] == 11 && ae < 2.47 && !(ae >= 1.37 && ae <= 1.52) && ratio < 5;
    bool mu = type[i] == 13 && ae < 2.5 && ratio < 3;
    good[i] = base && (ele || mu);
  }
  return good;
}
// (m_jjj, m_jj): the triplet with the largest vector-sum pT, the pair inside it with the
// largest pair pT (first maximum wins)
ROOT::RVecD atlasod_top(const RVecF &pt, const RVecF &eta, const RVecF &phi, const RVecF &e) {
  const size_t n = pt.size();
  std::vector<P4> p(n);
  for (size_t i = 0; i < n; ++i) p[i] = P4(pt[i] / 1000., eta[i], phi[i], e[i] / 1000.);
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
"""


def exactly(d: Any, n: int, good: str, collection: str, fields: tuple[str, ...]) -> Any:
    """Events with exactly ``n`` objects passing ``good``; their fields as ``g_<field>``."""
    d = d.Define("good", good).Filter(f"Sum(good) == {n}")
    for f in fields:
        d = d.Define(f"g_{f}", f"{collection}_{f}[good]")
    return d


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
        d.Histo1D(("m_yy", "", 30, 105, 160), "m_yy"),
        d.Filter(central).Histo1D(("m_yy_cat", "", 30, 105, 160), "m_yy"),
        d.Histo1D(("pt1", "", 30, 30, 180), "pt1"),
        d.Histo1D(("pt2", "", 30, 20, 120), "pt2"),
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
    d = d.Define("m4l", "atlasod_m4l(g_pt, g_eta, g_phi, g_E)")
    d = d.Define("mll", "atlasod_mll(g_pt, g_eta, g_phi, g_E, g_charge, g_type)")
    d = d.Define("mll1", "mll[0]").Define("mll2", "mll[1]")
    d = d.Define("n_jets", "Sum(jet_pt > 30000 && abs(jet_eta) < 4.4)")
    histos = [
        d.Histo1D(("m4l", "", 24, 80, 170), "m4l"),
        d.Histo1D(("mll1", "", 30, 50, 106), "mll1"),
        d.Histo1D(("mll2", "", 30, 12, 140), "mll2"),
        d.Histo1D(("n_jets", "", 6, -0.5, 5.5), "n_jets"),
    ]
    return d, histos


def ttbar(df: Any) -> tuple[Any, list[Any]]:
    tight = (
        "atlasod_tight(lep_isTightID, lep_pt, lep_eta, lep_ptcone30, lep_etcone20,"
        " lep_trackd0pvunbiased, lep_tracksigd0pvunbiased, lep_z0, lep_type)"
    )
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
    top = "atlasod_top(jet_pt[goodjet], jet_eta[goodjet], jet_phi[goodjet], jet_E[goodjet])"
    d = d.Define("top", top).Define("m_jjj", "top[0]").Define("m_jj", "top[1]")
    d = d.Define("n_jets", "Sum(goodjet)").Define("met", "met_et / 1000.")
    histos = [
        d.Histo1D(("m_jjj", "", 40, 100, 300), "m_jjj"),
        d.Histo1D(("m_jj", "", 40, 50, 130), "m_jj"),
        d.Histo1D(("mtw", "", 20, 0, 200), "mtw"),
        d.Histo1D(("met", "", 20, 0, 200), "met"),
        d.Histo1D(("n_jets", "", 10, -0.5, 9.5), "n_jets"),
    ]
    return d, histos


SELECTIONS = {"hyy": hyy, "hzz": hzz, "ttbar": ttbar}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("analysis", choices=sorted(SELECTIONS))
    parser.add_argument("file")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    import ROOT  # the ROOT environment only

    ROOT.gROOT.SetBatch(True)
    if args.threads > 0:
        ROOT.EnableImplicitMT(args.threads)
    if not ROOT.gInterpreter.Declare(HELPERS):
        raise SystemExit("rdf_selections: the helpers did not compile")
    df = ROOT.RDataFrame("mini", args.file)
    entries = df.Count()
    final, histos = SELECTIONS[args.analysis](df)
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
                "histogram_entries": [int(h.GetEntries()) for h in histos],
            }
        )
    )


if __name__ == "__main__":
    main()
