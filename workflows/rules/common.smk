import json
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

import yaml

from snakemake.exceptions import WorkflowError
from snakemake.logging import logger
from snakemake.utils import min_version, validate

min_version("7.32")

# The planning modules of the package are light (stdlib, PyYAML, jsonschema), so the
# Snakefile imports them from src/ even where the package is not installed (REANA).
sys.path.insert(0, str(Path(str(workflow.current_basedir)).parents[1] / "src"))
from atlasod import cache, failures, plan, runlock  # noqa: E402
from atlasod.analysis import Analysis, discover  # noqa: E402
from atlasod.analysis import validate as validate_against  # noqa: E402
from atlasod.catalogue import Catalogue, format_location  # noqa: E402
from atlasod.errors import AtlasodError  # noqa: E402

# The config is checked at start-up; the error names the bad key and what is allowed
# (Snakemake's own check below does not name the key, and fills in defaults).
_SCHEMA = Path(str(workflow.current_basedir)).parent / "schemas" / "config.schema.yaml"
try:
    validate_against(
        config,
        yaml.safe_load(_SCHEMA.read_text(encoding="utf-8")),
        "workflow config (workflows/config/config.yaml and --config)",
    )
except AtlasodError as exc:
    raise WorkflowError(str(exc)) from None
validate(config, "../schemas/config.schema.yaml")

# An alternative catalogue (same format) replaces the packaged one, e.g. for a mirror
# whose files differ, or for tests that serve generated files as "real" data.
CATALOGUE_PATH = config.get("catalogue") or None
CATALOGUE = Catalogue.load(Path(CATALOGUE_PATH) if CATALOGUE_PATH else None)
ANALYSES_DIR = Path(config.get("analyses_dir", "analyses"))
try:
    ANALYSES = {
        name: Analysis(ANALYSES_DIR / name, CATALOGUE)
        for name in discover(ANALYSES_DIR)
    }
except AtlasodError as exc:
    raise WorkflowError(str(exc)) from None
for _name in config.get("analyses", []):
    if _name not in ANALYSES:
        raise WorkflowError(
            f"config analyses: unknown analysis {_name!r}; available: {sorted(ANALYSES)}"
        )
SELECTED = config.get("analyses") or sorted(ANALYSES)
SOURCE = config["source"]
DATA = config["data_dir"]
RESULTS = f"{config['results_dir']}/{SOURCE}"
LOGS = f"{config.get('logs_dir', 'logs')}/{SOURCE}"


def _is_planning_run():
    """The Snakemake process that plans the workflow (not a cluster job re-reading the
    Snakefile): Snakemake 9's is_main_process, 7.32's mode 0."""
    main = getattr(workflow, "is_main_process", None)
    if main is None:
        main = getattr(workflow, "mode", 0) == 0
    return bool(main)


# The run lock of results/<source>, taken by the Snakefile's onstart handler (not in dry
# runs): the handle stays open for the run's life, and the kernel releases the lock with
# the process, however it ends.
RUN_LOCK = []


def take_run_lock():
    try:
        RUN_LOCK.append(runlock.acquire_run_lock(Path(RESULTS)))
    except AtlasodError as exc:
        raise WorkflowError(str(exc)) from None


if _is_planning_run():
    # Cached real files that changed since they were verified are checked again; one that
    # fails its checksum is removed, so this run fetches it again instead of using it.
    if SOURCE == "real" and config["access"] == "download":
        for _sample in {s for name in SELECTED for s in ANALYSES[name].files}:
            try:
                _problem = cache.check_cached(
                    _sample,
                    Path(f"{DATA}/real/{_sample.relpath}"),
                    always=config.get("verify_cache") == "always",
                )
            except AtlasodError as exc:
                raise WorkflowError(str(exc)) from None
            if _problem:
                logger.warning(f"cached input is corrupt: {_problem}")
CLI = f"{config.get('atlasod', 'python -m atlasod')} --analyses-dir {ANALYSES_DIR}" + (
    f" --catalogue {CATALOGUE_PATH}" if CATALOGUE_PATH else ""
)
# The full config, recorded in each run's manifest.
CONFIG_JSON = shlex.quote(json.dumps(config, sort_keys=True))
# Analysis switches (a group's `scale_option`) are boolean top-level config keys.
# Switches given on the command line (--config solutions=true) arrive as strings.
for _key in ("hzz_zz_factor", "zprime_ttbar_factor", "w_mtw_double_fill", "solutions"):
    if _key in config:
        config[_key] = str(config[_key]).lower() == "true"
# `solutions` fills in the exercises of declarative analyses (teachers only).
OPTIONS = " ".join(
    f"--option {k}={str(config[k]).lower()}"
    for k in sorted({k for a in ANALYSES.values() for k in a.options} | {"solutions"})
    if k in config
)


wildcard_constraints:
    analysis="[a-z][a-z0-9_]*",
    skim="[^/]+",
    kind="Data|MC",
    file=r"[^/]+\.root",
    stem="[^/]+",
    chunk=r"\d+",


def sample_of(analysis, stem):
    return ANALYSES[analysis].file(stem)


def input_path(analysis, sample):
    """Local path of an input file: the demo file of the analysis, or the cached real file."""
    if SOURCE == "demo":
        return f"{DATA}/demo/{analysis}/{sample.relpath}"
    return f"{DATA}/real/{sample.relpath}"


def location_templates():
    templates = config.get("locations") or CATALOGUE.location_templates()
    if isinstance(templates, str):  # --config locations=URL1,URL2
        templates = [t.strip() for t in templates.split(",") if t.strip()]
    return templates


def locations(sample):
    return [format_location(t, sample) for t in location_templates()]


def n_chunks(analysis, sample):
    return plan.n_chunks(
        ANALYSES[analysis].raw,
        sample,
        SOURCE,
        config["chunk_entries"],
        config["demo_scale"],
    )


def chunk_outputs(analysis):
    out = []
    for sample in ANALYSES[analysis].files:
        for i in range(n_chunks(analysis, sample)):
            out.append(f"{RESULTS}/{analysis}/chunks/{sample.stem}/{i}.root")
    return out


def analysis_outputs(analysis):
    a = ANALYSES[analysis]
    out = [
        f"{RESULTS}/{analysis}/yields.json",
        f"{RESULTS}/{analysis}/yields.md",
        f"{RESULTS}/{analysis}/manifest.json",
    ]
    out += [f"{RESULTS}/{analysis}/plots/{h.name}.png" for h in a.histograms]
    if a.fit:
        out.append(f"{RESULTS}/{analysis}/fit.json")
    return out


def process_input(wildcards):
    """The local input file of a chunk; none when real data are streamed."""
    if SOURCE == "real" and config["access"] == "stream":
        return []
    return input_path(wildcards.analysis, sample_of(wildcards.analysis, wildcards.stem))


def process_location(wildcards):
    sample = sample_of(wildcards.analysis, wildcards.stem)
    if SOURCE == "real" and config["access"] == "stream":
        return locations(sample)[0]
    return input_path(wildcards.analysis, sample)


def plot_inputs(wildcards):
    out = {"hists": f"{RESULTS}/{wildcards.analysis}/histograms.root"}
    if ANALYSES[wildcards.analysis].fit:
        out["fit"] = f"{RESULTS}/{wildcards.analysis}/fit.json"
    return out


def validate_inputs(wildcards):
    """What the validate step compares: yields, fit, histograms and (demo) the truth."""
    a = ANALYSES[wildcards.analysis]
    out = {
        "yields": f"{RESULTS}/{a.name}/yields.json",
        "hists": f"{RESULTS}/{a.name}/histograms.root",
    }
    if a.fit:
        out["fit"] = f"{RESULTS}/{a.name}/fit.json"
    if SOURCE == "demo":
        out["truth"] = [f"{input_path(a.name, f)}.truth.json" for f in a.data_files]
    return out


def validation_outputs(names):
    return [
        f"{RESULTS}/{name}/validation.json"
        for name in names
        if (ANALYSES[name].folder / "validation.yaml").is_file()
    ]


def analysis_locations(analysis):
    """Where each input file of an analysis is read from (local path or URL)."""
    return [
        process_location(SimpleNamespace(analysis=analysis, stem=f.stem))
        for f in ANALYSES[analysis].files
    ]


def manifest_inputs(wildcards):
    """The data the run read (local files) and the results the manifest checksums."""
    a = ANALYSES[wildcards.analysis]
    results = [
        f"{RESULTS}/{a.name}/histograms.root",
        f"{RESULTS}/{a.name}/yields.json",
    ]
    if a.fit:
        results.append(f"{RESULTS}/{a.name}/fit.json")
    data = [
        process_input(SimpleNamespace(analysis=a.name, stem=f.stem)) for f in a.files
    ]
    return {"data": [d for d in data if d], "results": results}


# Per-job resources (HTCondor, REANA), from measurements: a 500k-entry chunk of H→γγ takes
# 1.7 s and 200 MB; generating demo data needs ~0.6 kB per event; downloads need their size.
def demo_memory_mb(analysis, file):
    sample = CATALOGUE.file(file)
    events = plan.demo_events(ANALYSES[analysis].raw, sample, config["demo_scale"])
    return 500 + events // 1500


def fetch_disk_mb(file):
    return (CATALOGUE.file(file).size or 0) // 10**6 + 100
