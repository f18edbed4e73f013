import json
import re

import pytest

from atlasod.data.catalogue import Catalogue
from atlasod.errors import AtlasodError


def test_catalogue_lists_every_file_of_the_twelve_analyses(catalogue: Catalogue) -> None:
    # Appendix A of the reference: 71 + 29 + 22 + 9 + 64 files
    by_skim: dict[str, int] = {}
    for f in catalogue.files:
        by_skim[f.skim] = by_skim.get(f.skim, 0) + 1
    first_six = {"1lep": 71, "2lep": 29, "4lep": 22, "GamGam": 9, "1largeRjet1lep": 64}
    # and (more-analyses reference §9.4) the 3lep skim of WZ, the 1lep1tau skim of Z → ττ
    # and the 87 2lep files of §9.4.3 (two H→WW signal files, the 84 Sherpa V+jets slices
    # and the slepton signal of the SUSY search)
    higgs_ww = {
        "mc_345323.VBFH125_WW2lep.2lep.root": 102998796,
        "mc_345324.ggH125_WW2lep.2lep.root": 146407864,
    }
    assert by_skim == {**first_six, "2lep": 29 + 87, "3lep": 29, "1lep1tau": 104}
    more = {"3lep", "1lep1tau"}
    first = [f for f in catalogue.files if f.skim not in more]
    assert (
        sum(f.size for f in first)
        - sum(f.size for f in first if f.skim == "2lep" and _more_2lep(f.file))
        == 101_403_502_310
    )
    # §9.4.1 3lep (29 files, 923,905,975 bytes), §9.4.2 1lep1tau (104, 1,435,496,728 bytes),
    # §9.4.3 the extra 2lep files (87, 12,518,819,344 bytes)
    assert sum(f.size for f in catalogue.files if f.skim in more) == 923_905_975 + 1_435_496_728
    assert sum(f.size for f in first if f.skim == "2lep" and _more_2lep(f.file)) == 12_518_819_344
    assert {f: catalogue.file(f).size for f in higgs_ww} == higgs_ww
    # §9.1: all twelve read 415 files, 116,281,724,357 bytes
    assert (len(catalogue.files), sum(f.size for f in catalogue.files)) == (415, 116_281_724_357)


def _more_2lep(name: str) -> bool:
    """One of §9.4.3's 2lep files: H→WW's signal, a Sherpa V+jets slice, the slepton signal."""
    return name.startswith(("mc_345323.", "mc_345324.", "mc_392985.")) or bool(
        re.match(r"mc_3641[0-9][0-9]\.", name)
    )


def test_every_file_has_size_and_adler32(catalogue: Catalogue) -> None:
    for f in catalogue.files:
        assert f.size and f.size > 0
        assert re.fullmatch(r"[0-9a-f]{8}", f.adler32), f.file


def test_known_checksum_and_entries(catalogue: Catalogue) -> None:
    f = catalogue.file("mc_345060.ggH125_ZZ4lep.4lep.root")
    assert (f.size, f.adler32, f.entries) == (50518236, "1ea0e560", 164716)
    assert catalogue.file("data_A.GamGam").adler32 == "29634ba7"


def test_normalisation_of_ggh_yy_matches_the_original(catalogue: Catalogue) -> None:
    norm = catalogue.normalisation(343981)
    # df104 / C++: lumi * 0.102 / 55922617.6297
    assert norm.scale(10064.0) == pytest.approx(10064 * 0.102 / 55922617.6297, rel=1e-12)


def test_ttbar_sum_of_weights_depends_on_the_table(catalogue: Catalogue) -> None:
    norm = catalogue.normalisation(410000)
    assert norm.sumw == 49386600
    assert norm.sumw_by_table["Files_WBoson"] == 49296600


def test_higgs_ww_cross_section_depends_on_the_table(catalogue: Catalogue) -> None:
    """The C++ framework's Files_HWW has 0.58 pb for ggH → WW, infofile.py 0.148 pb
    (more-analyses reference §5.2); the sum of weights is the same."""
    norm = catalogue.normalisation(345324)
    assert norm.scale(10064.0, "Files_HWW") == pytest.approx(10064 * 0.58 / 55832659.6908)
    assert norm.scale(10064.0, "infofile") == pytest.approx(10064 * 0.1481173588 / 55832659.6908)
    assert catalogue.normalisation(345323).xsec_by_table == {"infofile": 0.02020229148}


def test_single_top_uses_weight_sign(catalogue: Catalogue) -> None:
    assert catalogue.normalisation(410013).weight_sign_only
    assert not catalogue.normalisation(410000).weight_sign_only


def test_locations_are_tried_in_order(catalogue: Catalogue) -> None:
    urls = catalogue.urls(catalogue.file("data_B.4lep.root"))
    assert urls == [
        "https://atlas-opendata.web.cern.ch/atlas-opendata/samples/2020/4lep/Data/data_B.4lep.root",
        "root://eospublic.cern.ch//eos/opendata/atlas/OutreachDatasets/2020-01-22/4lep/Data/data_B.4lep.root",
        "https://opendata.cern.ch/eos/opendata/atlas/OutreachDatasets/2020-08-19/4lep/Data/data_B.4lep.root",
    ]
    # 1lep on the portal lives in its own sub-directories
    one = catalogue.urls(catalogue.file("mc_361100.Wplusenu.1lep.root"))[2]
    assert one.endswith("2020-08-19/MC-1-1lep/tmp1/mc_361100.Wplusenu.1lep.root")


def test_unknown_sample_error_suggests_the_close_name(catalogue: Catalogue) -> None:
    with pytest.raises(
        AtlasodError, match=r"sample 'ggH125_ZZ4lp' has no 4lep file .*did you mean ggH125_ZZ4lep"
    ):
        catalogue.sample("ggH125_ZZ4lp", "4lep")


# A reference in the 2025e layout (Appendix B): a skim in rucio/opendata, one in user/egramsta.
REFERENCE_2025E = """
#### B.2 Skim `exactly4lep` — data and MC; directory `/eos/opendata/atlas/rucio/opendata/`

| file name | bytes | adler32 |
|---|---:|---|
| `ODEO_FEB2025_v0_exactly4lep_data15_periodD.exactly4lep.root` | 2219662 | 35ffb644 |
| `ODEO_FEB2025_v0_exactly4lep_mc_345060.{GGH}.exactly4lep.root` | 182051943 | c675b786 |
| `ODEO_FEB2025_v0_exactly4lep_mc_700600.Sh_2212_llll.exactly4lep.root` | 1000 | 00000001 |

#### B.6 Skim `2bjets` — data and MC; directory `/eos/opendata/atlas/rucio/user/egramsta/`

| file name | bytes | adler32 |
|---|---:|---|
| `mc_700600.Sh_2212_llll.2bjets70.root` | 2000 | 00000002 |

## Appendix A: the 373 MC datasets (DSID, physics_short, noskim file)

| DSID | physics_short | noskim bytes | noskim adler32 |
|---|---|---:|---|
| 301333 | `Pythia8EvtGen_A14NNPDF23LO_zprime3000_tt` | 16693784 | 230dafee |
| 345060 | `{GGH}` | 1 | 00000003 |
""".replace("{GGH}", "PowhegPythia8EvtGen_NNLOPS_nnlo_30_ggH125_ZZ4l")


def _records() -> list[dict]:
    """atlasopenmagic's records of the two samples (345060's numbers: reference 2025e §5.3)."""

    def skims(dsid: int, short: str) -> list[dict]:
        base = "root://eospublic.cern.ch:1094//eos/opendata/atlas/rucio"
        return [
            {
                "skim_type": "exactly4lep",
                "file_list": [
                    f"{base}/opendata/ODEO_FEB2025_v0_exactly4lep_mc_{dsid}.{short}.exactly4lep.root"
                ],
            },
            {
                "skim_type": "2bjets",
                "file_list": [f"{base}/user/egramsta/mc_{dsid}.{short}.2bjets70.root"],
            },
        ]

    return [
        {
            "dataset_number": "345060",
            "physics_short": "PowhegPythia8EvtGen_NNLOPS_nnlo_30_ggH125_ZZ4l",
            "cross_section_pb": 28.3,
            "genFiltEff": 0.000124,
            "kFactor": 1.717,
            "sumOfWeights": 45231011.19517517,
            "skims": skims(345060, "PowhegPythia8EvtGen_NNLOPS_nnlo_30_ggH125_ZZ4l"),
        },
        {
            "dataset_number": "700600",
            "physics_short": "Sh_2212_llll",
            "cross_section_pb": 1.25,
            "genFiltEff": 1.0,
            "kFactor": 1.0,
            "sumOfWeights": 7.5e6,
            "skims": skims(700600, "Sh_2212_llll"),
        },
        {
            "dataset_number": "301333",
            "physics_short": "Pythia8EvtGen_A14NNPDF23LO_zprime3000_tt",
            "cross_section_pb": 0.0035,
            "genFiltEff": 1.0,
            "kFactor": 1.0,
            "sumOfWeights": 20000.0,
            "file_list": [
                "root://eospublic.cern.ch:1094//eos/opendata/atlas/rucio/user/egramsta/"
                "mc_301333.Pythia8EvtGen_A14NNPDF23LO_zprime3000_tt.noskim.root"
            ],
            "skims": [],
        },
        {"dataset_number": "data", "physics_short": None, "skims": []},
    ]


def test_the_2025e_catalogue_tool_takes_the_samples_from_atlasopenmagic(tmp_path) -> None:
    """tools/build_catalogue.py --online: atlasopenmagic 1.10.1 (the official package, run as
    published) downloads the release's records from its API (here served on 127.0.0.1 with
    ATLAS_API_BASE_URL); the catalogue gets every MC sample's σ, k, ε and Σw; the export it
    saves gives the same catalogue offline (--metadata); a record whose files are not the
    reference's is refused, naming the file."""
    import os
    import subprocess
    import sys

    import yaml

    from .conftest import REPO
    from .servers import MetadataAPIServer

    reference = tmp_path / "reference.md"
    reference.write_text(REFERENCE_2025E, encoding="utf-8")
    env = {
        **os.environ,
        "ATLASOPENMAGIC_NO_UPDATE_CHECK": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
    }

    def build(*args: str, api: str = "http://127.0.0.1:9") -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(REPO / "tools" / "build_catalogue.py"), "--release"]
        command += ["2025e", str(reference), *args]
        return subprocess.run(
            command,
            env={**env, "ATLAS_API_BASE_URL": api},
            capture_output=True,
            text=True,
            check=False,
        )

    online, export = tmp_path / "online.yaml", tmp_path / "metadata.json"
    with MetadataAPIServer("2025e-13tev-beta", _records()) as api:
        run = build("--online", "--save-metadata", str(export), "--out", str(online), api=api.url)
    assert run.returncode == 0, run.stderr
    assert any(r.startswith("/datasets?release_name=2025e-13tev-beta") for r in api.requests)
    catalogue = yaml.safe_load(online.read_text())
    assert catalogue["samples"] == {
        345060: {
            "name": "PowhegPythia8EvtGen_NNLOPS_nnlo_30_ggH125_ZZ4l",
            "xsec_pb": 28.3,
            "k_factor": 1.717,
            "filter_eff": 0.000124,
            "sumw": 45231011.19517517,
        },
        301333: {
            "name": "Pythia8EvtGen_A14NNPDF23LO_zprime3000_tt",
            "xsec_pb": 0.0035,
            "k_factor": 1.0,
            "filter_eff": 1.0,
            "sumw": 20000.0,
        },
        700600: {
            "name": "Sh_2212_llll",
            "xsec_pb": 1.25,
            "k_factor": 1.0,
            "filter_eff": 1.0,
            "sumw": 7.5e6,
        },
    }
    assert catalogue["files"][0]["file"].endswith("data15_periodD.exactly4lep.root")
    assert [f["portal_dir"] for f in catalogue["files"][-2:]] == ["user/egramsta"] * 2
    assert catalogue["files"][-1]["file"].endswith("zprime3000_tt.noskim.root")

    offline = tmp_path / "offline.yaml"  # no server: the address refuses connections
    run = build("--metadata", str(export), "--out", str(offline))
    assert run.returncode == 0, run.stderr
    assert offline.read_bytes() == online.read_bytes()

    records = json.loads(export.read_text())
    records["700600"]["skims"][1]["file_list"] = [
        "root://x//eos/opendata/atlas/rucio/opendata/mc_700600.Sh_2212_llll.2bjets70.root"
    ]
    export.write_text(json.dumps(records))
    run = build("--metadata", str(export), "--out", str(tmp_path / "bad.yaml"))
    assert run.returncode != 0
    assert "the reference and atlasopenmagic disagree" in run.stderr
    assert (
        "mc_700600.Sh_2212_llll.2bjets70.root: not in atlasopenmagic's 2bjets files" in run.stderr
    )
    assert not (tmp_path / "bad.yaml").exists()
