"""Bad input gives an error that names the file or key and what to do."""

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import uproot

from atlasod.cli import main
from atlasod.data.catalogue import Catalogue
from atlasod.data.release import Release
from atlasod.data.trees import open_tree
from atlasod.demo.generate import generate_file
from atlasod.errors import AtlasodError
from atlasod.selection.analysis import Analysis, discover, load_analysis
from atlasod.selection.chunk import process_chunk

from .conftest import ANALYSES, ON_2020, run_snakemake
from .servers import free_port


@pytest.fixture(scope="module")
def good_file(
    tmp_path_factory: pytest.TempPathFactory, hyy: Analysis, catalogue: Catalogue
) -> Path:
    sample = hyy.data_files[0]
    path = tmp_path_factory.mktemp("good") / sample.file
    generate_file(hyy, catalogue, sample, path, seed=1, scale=0.05)
    return path


def test_missing_input_file_names_it_and_the_fix(
    tmp_path: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    missing = tmp_path / "data_A.GamGam.root"
    with pytest.raises(AtlasodError) as err:
        process_chunk(hyy, hyy.data_files[0], str(missing), 0, 1, 10064.0, catalogue)
    assert str(err.value) == (
        f"input file {missing} does not exist; run the fetch step "
        "(or use --config source=demo for generated data)"
    )


def test_truncated_root_file_names_the_file(
    tmp_path: Path, good_file: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    bad = tmp_path / good_file.name
    bad.write_bytes(good_file.read_bytes()[: good_file.stat().st_size // 2])
    with pytest.raises(
        AtlasodError,
        match=rf"^{re.escape(str(bad))} is not a readable ROOT file \(OSError: "
        r".*\); it may be truncated or corrupt: delete it and fetch it again$",
    ):
        process_chunk(hyy, hyy.data_files[0], str(bad), 0, 1, 10064.0, catalogue)


def test_file_that_is_not_root_names_the_file(
    tmp_path: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    bad = tmp_path / "data_A.GamGam.root"
    bad.write_text("<html>503 Service Unavailable</html>")
    with pytest.raises(
        AtlasodError,
        match=rf"^{re.escape(str(bad))} is not a readable ROOT file .*delete it and fetch it again",
    ):
        process_chunk(hyy, hyy.data_files[0], str(bad), 0, 1, 10064.0, catalogue)


def test_file_without_mini_tree(tmp_path: Path, hyy: Analysis, catalogue: Catalogue) -> None:
    bad = tmp_path / "data_A.GamGam.root"
    with uproot.recreate(bad) as f:
        f["other"] = {"x": [1, 2, 3]}
    with pytest.raises(
        AtlasodError, match=rf"^{re.escape(str(bad))} has no tree 'mini' \(it contains: other\)$"
    ):
        process_chunk(hyy, hyy.data_files[0], str(bad), 0, 1, 10064.0, catalogue)


def test_a_file_of_the_other_release_is_named_as_such(
    tmp_path: Path, good_file: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    """A 2025e file (tree 'analysis') in a 2020 run, and a 2020 file read as 2025e: the
    error names both releases and the fix, not a missing tree or branch."""
    newer = tmp_path / "data_A.GamGam.root"
    with uproot.recreate(newer) as f:
        f["analysis"] = {"met": np.zeros(3, dtype=np.float32)}
    with pytest.raises(AtlasodError) as err:
        process_chunk(hyy, hyy.data_files[0], str(newer), 0, 1, 10064.0, catalogue)
    assert str(err.value) == (
        f"{newer} is a file of the 2025e release (tree 'analysis'), but this run reads the "
        "2020 release (tree 'mini'): use a file of the 2020 release, or run on the 2025e "
        "release (--config release=2025e)"
    )
    with pytest.raises(AtlasodError) as err:
        open_tree(str(good_file), Release.load("2025e"))
    assert str(err.value) == (
        f"{good_file} is a file of the 2020 release (tree 'mini'), but this run reads the "
        "2025e release (tree 'analysis'): use a file of the 2025e release, or run on the "
        "2020 release (--config release=2020)"
    )


def test_missing_branch_names_branch_and_file(
    tmp_path: Path, good_file: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    arrays = uproot.open(good_file)["mini"].arrays(["trigP", "photon_pt"])
    bad = tmp_path / good_file.name
    with uproot.recreate(bad) as f:
        f["mini"] = {"trigP": arrays.trigP}
    with pytest.raises(AtlasodError) as err:
        process_chunk(hyy, hyy.data_files[0], str(bad), 0, 1, 10064.0, catalogue)
    assert str(err.value) == (
        f"{bad}: tree 'mini' has no branch photon_convType, photon_eta, photon_etcone20, "
        "photon_isTightID, photon_phi, photon_pt, photon_ptcone30 (needed by analysis hyy); "
        f"check the branch names in {hyy.config_path} against the 2020 'mini' schema"
    )


def _copy_analysis(tmp_path: Path, name: str) -> Path:
    root = tmp_path / "analyses"
    shutil.copytree(ANALYSES / name, root / name)
    return root


def test_bad_analysis_value_names_file_and_key(tmp_path: Path, catalogue: Catalogue) -> None:
    root = _copy_analysis(tmp_path, "hyy")
    config = root / "hyy" / "analysis.yaml"
    config.write_text(
        config.read_text().replace(
            "bins: 30\n    range: [105, 160]", "bins: -3\n    range: [105, 160]", 1
        )
    )
    with pytest.raises(AtlasodError) as err:
        load_analysis(root, "hyy", catalogue)
    assert (
        str(err.value)
        == f"{config}: invalid value at 'histograms.0.bins': -3 is less than the minimum of 1"
    )


def test_unknown_analysis_key_lists_the_allowed_keys(tmp_path: Path, catalogue: Catalogue) -> None:
    root = _copy_analysis(tmp_path, "hyy")
    config = root / "hyy" / "analysis.yaml"
    config.write_text(config.read_text().replace("skim: GamGam", "skim: GamGam\nlumi: 10", 1))
    with pytest.raises(
        AtlasodError,
        match=r"invalid value at '<top level>': Additional properties are not allowed "
        r"\('lumi' was unexpected\) \(allowed keys: cuts, data, demo, description, exercises, ",
    ):
        load_analysis(root, "hyy", catalogue)


def test_an_analysis_that_imports_an_old_module_name_is_told_the_new_one(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """A teacher's selection.py written for the flat package (0.1) fails at once with the new
    import, not with a ModuleNotFoundError traceback; once mended, it loads."""
    root = _copy_analysis(tmp_path, "hzz")
    selection = root / "hzz" / "selection.py"
    mended = selection.read_text()
    assert "from atlasod.selection.physics import (" in mended
    selection.write_text(
        mended.replace(
            "from atlasod.selection.physics import (", "from atlasod.physics import (", 1
        )
    )
    number = mended.splitlines().index("from atlasod.selection.physics import (") + 1
    with pytest.raises(AtlasodError) as err:
        _ = load_analysis(root, "hzz", catalogue).selection
    assert str(err.value) == (
        f"{selection}, line {number}: the module atlasod.physics is now "
        "atlasod.selection.physics (the package is split by stage: "
        "docs/writing-an-analysis.md); change the import"
    )
    selection.write_text(mended)
    assert hasattr(load_analysis(root, "hzz", catalogue).selection, "select_events")


def test_unknown_sample_in_analysis(tmp_path: Path, catalogue: Catalogue) -> None:
    root = _copy_analysis(tmp_path, "hyy")
    config = root / "hyy" / "analysis.yaml"
    config.write_text(config.read_text().replace("- ggH125_gamgam", "- ggH125_gammagamma", 1))
    with pytest.raises(
        AtlasodError,
        match="sample 'ggH125_gammagamma' has no GamGam file in the catalogue; "
        "did you mean ggH125_gamgam",
    ):
        load_analysis(root, "hyy", catalogue)


def test_a_demo_composition_that_names_no_group_is_refused(
    tmp_path: Path, catalogue: Catalogue
) -> None:
    """{ZZ,WW: 0.1} in a YAML flow mapping is two keys, ZZ and WW: neither is a group."""
    root = _copy_analysis(tmp_path, "wz")
    config = root / "wz" / "analysis.yaml"
    text = config.read_text()
    assert '"ZZ,WW": 0.1' in text
    config.write_text(text.replace('"ZZ,WW": 0.1', "ZZ,WW: 0.1"))
    with pytest.raises(AtlasodError) as err:
        load_analysis(root, "wz", catalogue)
    assert str(err.value) == (
        f"{config}: demo.composition: 'ZZ' is not a group of the analysis (its groups: Other, "
        'V+jets, ZZ,WW, WZ); a name with a comma needs quotes in {...}: "ZZ,WW"'
    )


@pytest.mark.parametrize(
    ("name", "written", "changed", "message"),
    [
        # the resonance model's pairs (ZZ → 4ℓ) are two resonances of two objects each
        ("zz", "\n  decay: 4\n  pairs: true\n", "\n  decay: 2\n  pairs: true\n",
         "invalid value at 'demo.decay': 4 was expected"),
        # the lepton_jets model's W+jets events have one to three jets
        ("singletop", "\n  w_jets_jets: 2\n", "\n  w_jets_jets: 4\n",
         "invalid value at 'demo.w_jets_jets': 4 is not one of [1, 2, 3]"),
    ],
)  # fmt: skip
def test_a_demo_value_out_of_range_is_refused(
    name: str, written: str, changed: str, message: str, tmp_path: Path, catalogue: Catalogue
) -> None:
    """A demo model's parameter outside what the model makes is refused when checked."""
    root = _copy_analysis(tmp_path, name)
    config = root / name / "analysis.yaml"
    text = config.read_text()
    assert written in text
    config.write_text(text.replace(written, changed))
    with pytest.raises(AtlasodError) as err:
        load_analysis(root, name, catalogue)
    assert str(err.value) == f"{config}: {message}"


def test_a_histogram_after_an_unknown_cut_is_refused(tmp_path: Path, catalogue: Catalogue) -> None:
    """histI_ histograms are filled after a cut, which must be one of the analysis'."""
    root = _copy_analysis(tmp_path, "hww")
    config = root / "hww" / "analysis.yaml"
    text = config.read_text()
    assert "variable: mt, after: different flavour," in text
    config.write_text(
        text.replace("variable: mt, after: different flavour,", "variable: mt, after: eμ,")
    )
    with pytest.raises(AtlasodError) as err:
        load_analysis(root, "hww", catalogue)
    message = str(err.value)
    assert message.startswith(
        f"{config}: histogram histI_mt: after: 'eμ' is not one of the cuts ['trigger', "
    )
    assert "'different flavour'" in message


def test_an_unknown_normalisation_table_is_refused(tmp_path: Path, catalogue: Catalogue) -> None:
    """A table name with a typo would silently use the default cross sections."""
    root = _copy_analysis(tmp_path, "hww")
    config = root / "hww" / "analysis.yaml"
    text = config.read_text()
    assert "    normalisation_table: infofile\n" in text
    config.write_text(
        text.replace("    normalisation_table: infofile\n", "    normalisation_table: infofle\n")
    )
    with pytest.raises(AtlasodError) as err:
        load_analysis(root, "hww", catalogue)
    assert str(err.value) == (
        f"{config}: group Higgs: normalisation_table: 'infofle' is not a normalisation table of "
        "the catalogue (its tables: Files_HWW, Files_HZZ, Files_Hyy, Files_SUSY, Files_WBoson, "
        "Files_ZPrime, Files_ZTauTau, Files_base, infofile); did you mean 'infofile'?"
    )


def test_an_error_of_the_selection_is_not_blamed_on_the_file(
    tmp_path: Path, catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A selection that fails on the events it reads names the selection, not a corrupt
    file (the chunk step only blames reading on the file)."""
    from atlasod.selection import chunk

    hyy = load_analysis(ANALYSES, "hyy", catalogue)
    sample = hyy.data_files[0]
    path = tmp_path / sample.file
    generate_file(hyy, catalogue, sample, path, seed=1, scale=0.01)

    def broken(*args: object, **kwargs: object) -> None:
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(chunk, "accumulate", broken)
    with pytest.raises(ValueError, match="operands could not be broadcast") as err:
        chunk.process_chunk(hyy, sample, str(path), 0, 1, 10064.0, catalogue)
    assert "corrupt" not in str(err.value)


def test_cli_reports_errors_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--analyses-dir", str(ANALYSES), "check", "--analysis", "hyz"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "ERROR atlasod: no analysis 'hyz' under" in err
    assert f"available: {', '.join(discover(ANALYSES))}\n" in err  # every folder
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        (
            "source=simulated",
            "invalid value at 'source': 'simulated' is not one of ['real', 'demo']",
        ),
        (
            "chunk_entries=10",
            "invalid value at 'chunk_entries': 10 is less than the minimum of 1000",
        ),
        ("lumi_pb=-1", "invalid value at 'lumi_pb': -1 is less than or equal to the minimum of 0"),
        (
            "demo_scale=0",
            "invalid value at 'demo_scale': 0 is less than or equal to the minimum of 0",
        ),
        ("verify_cache=sometimes", "invalid value at 'verify_cache': 'sometimes' is not one of"),
        ("release=2016", "invalid value at 'release': '2016' is not one of ['2020', '2025e']"),
        (
            "lumi=10",
            "invalid value at '<top level>': Additional properties are not allowed ('lumi' was "
            "unexpected) (allowed keys: access, analyses,",
        ),
    ],
)
def test_bad_workflow_config_value_is_rejected_at_start_naming_the_key(
    setting: str, message: str
) -> None:
    proc = run_snakemake("-n", "hyy", "--config", setting, check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert f"workflow config (workflows/config/config.yaml and --config): {message}" in out


def test_unknown_analysis_in_workflow_config(tmp_path: Path) -> None:
    proc = run_snakemake("-n", "--config", "analyses=[hyz]", check=False)
    assert proc.returncode != 0
    assert (
        f"config analyses: unknown analysis 'hyz'; available: {ON_2020}"
        in proc.stdout + proc.stderr
    )


def test_an_analysis_that_does_not_run_on_the_release_is_named(tmp_path: Path) -> None:
    """`analyses=[wz]` (or the target wz) on 2025e, where wz has no block: the error names
    the analysis, the release and what runs there, not a missing rule."""
    for args in (
        ["--config", "release=2025e", "analyses=[wz]"],
        ["wz", "--config", "release=2025e"],
    ):
        proc = run_snakemake("-n", *args, check=False)
        assert proc.returncode != 0
        assert (
            "analysis 'wz' does not run on release 2025e (analyses/wz/analysis.yaml has no "
            "block "
            "for it under releases:); the analyses of release 2025e: ['hyy'"
        ) in proc.stdout + proc.stderr


def test_no_half_written_output_on_failure(
    tmp_path: Path, hyy: Analysis, catalogue: Catalogue
) -> None:
    out = tmp_path / "chunk.root"
    with pytest.raises(SystemExit):
        main(
            [
                "--analyses-dir",
                str(ANALYSES),
                "process",
                "--analysis",
                "hyy",
                "--file",
                "data_A.GamGam",
                "--input",
                str(tmp_path / "missing.root"),
                "--out",
                str(out),
                "--cutflow",
                str(tmp_path / "c.json"),
            ]
        )
    assert list(tmp_path.iterdir()) == []


def test_offline_workflow_says_so_at_the_end_of_the_terminal_output(tmp_path: Path) -> None:
    """`snakemake --cores 2 hyy` on a machine that reaches no location: the last lines say
    that the machine looks offline and what to do instead (not only the job's log file)."""
    unreachable = f"http://127.0.0.1:{free_port()}/{{skim}}/{{kind}}/{{file}}"
    proc = run_snakemake(
        "hyy",
        "--config",
        f"data_dir={tmp_path / 'data'}",
        f"results_dir={tmp_path / 'results'}",
        f"logs_dir={tmp_path / 'logs'}",
        f"locations={unreachable}",
        "fetch_timeout=2",
        check=False,
    )
    assert proc.returncode != 0
    tail = proc.stderr[proc.stderr.index("atlasod: why the workflow stopped") :]
    assert re.search(r"rule fetch failed \(log: \S+/logs/2020-real/fetch/GamGam/\S+\.log\):", tail)
    assert "could be reached: this machine looks offline (or a firewall blocks them):" in tail
    assert "To run offline, use generated data instead: --config source=demo" in tail
    assert not list((tmp_path / "data").rglob("*.root"))  # nothing half-downloaded kept
