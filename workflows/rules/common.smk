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
from atlasod import __version__, runlock  # noqa: E402
from atlasod.data import cache, plan  # noqa: E402
from atlasod.data.catalogue import Catalogue, format_location  # noqa: E402
from atlasod.errors import AtlasodError  # noqa: E402
from atlasod.run import failures  # noqa: E402
from atlasod.selection.analysis import (
    Analysis,
    analysis_releases,
    discover,
)  # noqa: E402
from atlasod.selection.analysis import validate as validate_against  # noqa: E402

# The config is checked at start-up; the error names the bad key and what is allowed
# (Snakemake's own check below does not name the key, and fills in defaults).
_SCHEMA = Path(str(workflow.current_basedir)).parent / "schemas" / "config.schema.yaml"
# --config release=2020 arrives as a number
if isinstance(config.get("release"), int):
    config["release"] = str(config["release"])
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
# The release of the files read (2020 or 2025e): its packaged catalogue, or the one given.
RELEASE = str(config["release"])
CATALOGUE_PATH = config.get("catalogue") or None
ANALYSES_DIR = Path(config.get("analyses_dir", "analyses"))
try:
    CATALOGUE = Catalogue.load(
        Path(CATALOGUE_PATH) if CATALOGUE_PATH else None, RELEASE
    )
    # The analyses that run on this release (their folder says which: docs/releases.md).
    ANALYSES = {
        name: Analysis(ANALYSES_DIR / name, CATALOGUE)
        for name in discover(ANALYSES_DIR)
        if RELEASE in analysis_releases(ANALYSES_DIR / name)
    }
except AtlasodError as exc:
    raise WorkflowError(str(exc)) from None


def not_on_this_release(name):
    raise WorkflowError(
        f"analysis {name!r} does not run on release {RELEASE} "
        f"({ANALYSES_DIR}/{name}/analysis.yaml has no block for it under releases:); "
        f"the analyses of release {RELEASE}: {sorted(ANALYSES)}"
    )


for _name in config.get("analyses", []):
    if _name in discover(ANALYSES_DIR) and _name not in ANALYSES:
        not_on_this_release(_name)
    if _name not in ANALYSES:
        raise WorkflowError(
            f"config analyses: unknown analysis {_name!r}; available: {sorted(ANALYSES)}"
        )
SELECTED = config.get("analyses") or sorted(ANALYSES)
SOURCE = config["source"]
DATA = config["data_dir"]
# A class's shared, read-only cache of verified real files (filled by its teacher): a file
# found there is read in place; the others are fetched into data_dir as usual.
DATA_CACHE = config.get("data_cache") or ""


def real_path(sample):
    """A real file: in the class's shared cache if it holds it, else under data_dir."""
    cached = f"{DATA_CACHE}/real/{sample.relpath}"
    return (
        cached
        if DATA_CACHE and Path(cached).is_file()
        else f"{DATA}/real/{sample.relpath}"
    )


# multiply=N: every input file is replaced by N variants of it (atlasod.data.multiply), made
# once per seed and smearing under data_dir/multiplied/; results go to results/<release>-<source>-xN.
MULTIPLY = int(config.get("multiply", 1))
RUN = plan.run_name(RELEASE, SOURCE, MULTIPLY)
MULTIPLIED = plan.multiplied_dir(
    DATA, config.get("multiply_seed", 1), config.get("multiply_smear", 0.3)
)
RESULTS = f"{config['results_dir']}/{RUN}"
LOGS = f"{config.get('logs_dir', 'logs')}/{RUN}"


def _config_list(key):
    value = config.get(key) or []
    if isinstance(value, str):  # --config key=a,b
        value = [v.strip() for v in value.split(",") if v.strip()]
    return value


# Inputs by Rucio DID (the Datalake): data sets (or files) whose files replace the local
# inputs; expanded to their files here, when the workflow is planned.  Every input of
# the selected analyses must then be in them (no fallback); a variant of multiplied data
# that is not in them is made from its original.
RUCIO_INPUTS = _config_list("rucio_inputs")
RUCIO_FILES = {}  # logical file name (plan.logical_names) -> FileDid
RUCIO_URLS = {}  # DID -> root:// URL of a replica (access=stream)
if RUCIO_INPUTS:
    from atlasod.data import datalake

    try:
        _client = datalake.connect()
        _dids = {
            f.name: f for d in RUCIO_INPUTS for f in datalake.dataset_files(_client, d)
        }
        _names = plan.logical_names(
            sorted(_dids), {s.stem for a in ANALYSES.values() for s in a.files}
        )
    except (AtlasodError, ValueError) as exc:
        raise WorkflowError(f"config rucio_inputs: {exc}") from None
    RUCIO_FILES = {logical: _dids[name] for logical, name in _names.items()}
    # access=stream: ROOT files are read in place from a replica (root://), not downloaded
    if config["access"] == "stream":
        try:
            RUCIO_URLS = datalake.stream_urls(
                _client, [f for n, f in RUCIO_FILES.items() if n.endswith(".root")]
            )
        except AtlasodError as exc:
            raise WorkflowError(f"config rucio_inputs: {exc}") from None


def _is_planning_run():
    """The Snakemake process that plans the workflow (not a cluster job re-reading the
    Snakefile): Snakemake 9's is_main_process, 7.32's mode 0."""
    main = getattr(workflow, "is_main_process", None)
    if main is None:
        main = getattr(workflow, "mode", 0) == 0
    return bool(main)


# The run lock of results/<release>-<source>, taken by the Snakefile's onstart handler (not in dry
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
                    Path(real_path(_sample)),
                    always=config.get("verify_cache") == "always",
                )
            except AtlasodError as exc:
                raise WorkflowError(str(exc)) from None
            if _problem:
                logger.warning(f"cached input is corrupt: {_problem}")
CLI = (
    f"{config.get('atlasod', 'python -m atlasod')} --analyses-dir {ANALYSES_DIR}"
    f" --release {RELEASE}"
    + (f" --catalogue {CATALOGUE_PATH}" if CATALOGUE_PATH else "")
)


def lumi_pb(analysis):
    """The luminosity of an analysis (pb⁻¹): config lumi_pb if set, else the analysis' on
    its release (analysis.yaml, with its source), else the release's."""
    return config.get("lumi_pb") or ANALYSES[analysis].lumi_pb


# The full config, recorded in each run's manifest.
CONFIG_JSON = shlex.quote(json.dumps(config, sort_keys=True))
# Analysis switches (a group's `scale_option`) are boolean top-level config keys.
# Switches given on the command line (--config solutions=true) arrive as strings.
for _key in {k for a in ANALYSES.values() for k in a.options} | {"solutions"}:
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
    origin="real|demo/[a-z][a-z0-9_]*|rucio/[0-9a-f]{8}",


def variants():
    """The variant numbers of multiplied inputs; [None] when the data are not multiplied."""
    return list(range(MULTIPLY)) if MULTIPLY > 1 else [None]


def input_stem(sample, variant):
    """Name of the chunks of one input: the sample's stem, with ``.v<k>`` for variant k."""
    return plan.variant_stem(sample.stem, variant)


def split_stem(stem):
    """(sample stem, variant number or None) of an input's name (see input_stem)."""
    return plan.split_variant(stem) if MULTIPLY > 1 else (stem, None)


def sample_of(analysis, stem):
    return ANALYSES[analysis].file(split_stem(stem)[0])


def rucio_input(analysis, sample, variant=None, suffix=""):
    """The Rucio file of an input (None for a variant that is not in the inputs)."""
    logical = f"{plan.variant_stem(sample.stem, variant)}.root{suffix}"
    did = RUCIO_FILES.get(logical)
    if did is None and variant is None:
        raise WorkflowError(
            f"{logical} (analysis {analysis}) is in none of the Rucio inputs "
            f"{', '.join(RUCIO_INPUTS)}: add the data set that holds it to rucio_inputs"
        )
    return did


def rucio_path(did):
    """Where a file read by DID is downloaded (rule fetch_did)."""
    return f"{DATA}/rucio/{did.scope}/{did.name}"


def rucio_location(did):
    """Where a ROOT file read by DID is read: its replica's URL (access=stream), or the
    downloaded copy."""
    return RUCIO_URLS.get(did.did) or rucio_path(did)


def local_only(location):
    """A rule's input for a location: the file, or nothing for a URL (read in place)."""
    return [] if "://" in location else location


def multiplied_path(analysis, sample, variant):
    """Variant ``variant`` of an input file: from the Rucio inputs if they hold it, else
    made by the multiply step from the original (an original read from Rucio is known by
    its adler32)."""
    if RUCIO_INPUTS:
        did = rucio_input(analysis, sample, variant)
        if did is not None:
            return rucio_location(did)
        origin = f"rucio/{rucio_input(analysis, sample).adler32}"
    else:
        origin = f"demo/{analysis}" if SOURCE == "demo" else "real"
    return plan.variant_file(MULTIPLIED, origin, sample, variant)


def input_path(analysis, sample):
    """Where an input file is read: the demo file of the analysis, the cached real file, or
    the file read by Rucio DID (downloaded, or its replica's URL with access=stream)."""
    if RUCIO_INPUTS:
        return rucio_location(rucio_input(analysis, sample))
    if SOURCE == "demo":
        return f"{DATA}/demo/{analysis}/{sample.relpath}"
    return real_path(sample)


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
        CATALOGUE.release,
    )


def chunk_outputs(analysis):
    out = []
    for sample in ANALYSES[analysis].files:
        for variant in variants():
            stem = input_stem(sample, variant)
            for i in range(n_chunks(analysis, sample)):
                out.append(f"{RESULTS}/{analysis}/chunks/{stem}/{i}.root")
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


def analysis_files(*names):
    """Input function: the files of the analysis folder that a step reads (analysis.yaml and
    those of ``names`` that exist), so that editing one reruns the steps that depend on it.
    """

    def files(wildcards):
        folder = ANALYSES[wildcards.analysis].folder
        return [
            str(folder / n) for n in ("analysis.yaml", *names) if (folder / n).is_file()
        ]

    return files


def process_input(wildcards):
    """The local input file of a chunk; none when the file is read in place (a URL)."""
    return local_only(process_location(wildcards))


def process_location(wildcards):
    """Where a chunk's input is read: a local path, or a URL (access=stream)."""
    sample = sample_of(wildcards.analysis, wildcards.stem)
    variant = split_stem(wildcards.stem)[1]
    if variant is not None:
        return multiplied_path(wildcards.analysis, sample, variant)
    if SOURCE == "real" and config["access"] == "stream" and not RUCIO_INPUTS:
        return locations(sample)[0]
    return input_path(wildcards.analysis, sample)


def variants_location(wildcards):
    """Where the N variants of an input are read, in order (rule process_variants)."""
    sample = sample_of(wildcards.analysis, wildcards.stem)
    return [multiplied_path(wildcards.analysis, sample, k) for k in range(MULTIPLY)]


def variants_input(wildcards):
    """The local files among them."""
    return [p for p in map(local_only, variants_location(wildcards)) if p]


def multiply_location(wildcards):
    """Where the multiply step reads the original file: the local (generated or fetched)
    file, or its URL when real data are streamed."""
    if wildcards.origin.startswith("rucio/"):
        return rucio_location(RUCIO_FILES[f"{wildcards.stem}.root"])
    if wildcards.origin == "real" and config["access"] == "stream":
        return locations(CATALOGUE.file(f"{wildcards.stem}.root"))[0]
    return f"{DATA}/{wildcards.origin}/{wildcards.skim}/{wildcards.kind}/{wildcards.stem}.root"


def validate_inputs(wildcards):
    """What the validate step compares: yields, fit, histograms and (demo) the truth."""
    a = ANALYSES[wildcards.analysis]
    out = {
        "yields": f"{RESULTS}/{a.name}/yields.json",
        "hists": f"{RESULTS}/{a.name}/histograms.root",
    }
    if a.fit:
        out["fit"] = f"{RESULTS}/{a.name}/fit.json"
    if MULTIPLY > 1:
        out.update(unmultiplied_results(a))
    elif SOURCE == "demo" and RUCIO_INPUTS:
        out["truth"] = [
            rucio_path(rucio_input(a.name, f, suffix=".truth.json"))
            for f in a.data_files
        ]
    elif SOURCE == "demo":
        out["truth"] = [f"{input_path(a.name, f)}.truth.json" for f in a.data_files]
    return out


def unmultiplied_results(analysis):
    """A multiplied run is validated against the run on the original data: its results
    must exist (they are another run's outputs, not this one's)."""
    base = (
        f"{config['results_dir']}/{plan.run_name(RELEASE, SOURCE, 1)}/{analysis.name}"
    )
    out = {"base_yields": f"{base}/yields.json"}
    if analysis.fit:
        out["base_fit"] = f"{base}/fit.json"
    missing = [path for path in out.values() if not Path(path).is_file()]
    if missing:
        raise WorkflowError(
            f"validating {analysis.name} on data multiplied ×{MULTIPLY} compares it with the "
            f"run on the original data, but {', '.join(missing)} does not exist: run "
            f"`snakemake {analysis.name} --config source={SOURCE} release={RELEASE}` first"
        )
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
        process_location(SimpleNamespace(analysis=analysis, stem=input_stem(f, v)))
        for f in ANALYSES[analysis].files
        for v in variants()
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
        process_input(SimpleNamespace(analysis=a.name, stem=input_stem(f, v)))
        for f in a.files
        for v in variants()
    ]
    return {"data": [d for d in data if d], "results": results}


# Per-job resources (HTCondor, REANA), from measurements: a 500k-entry chunk of H→γγ takes
# 1.7 s and 200 MB; generating demo data needs ~0.6 kB per event; downloads need their size.
def demo_memory_mb(analysis, file):
    sample = CATALOGUE.file(file)
    events = plan.demo_events(
        ANALYSES[analysis].raw, sample, config["demo_scale"], CATALOGUE.release
    )
    return 500 + events // 1500


def fetch_disk_mb(file):
    return (CATALOGUE.file(file).size or 0) // 10**6 + 100


def input_dids(analysis):
    """The Rucio DIDs an analysis reads (empty when its inputs are local)."""
    out = []
    for sample in ANALYSES[analysis].files:
        for variant in variants():
            did = RUCIO_FILES.get(f"{plan.variant_stem(sample.stem, variant)}.root")
            if did is None and variant is not None and RUCIO_INPUTS:
                did = RUCIO_FILES.get(
                    f"{sample.stem}.root"
                )  # the original, multiplied here
            if did is not None:
                out.append(did.did)
    return sorted(set(out))


def variant_files(analysis):
    """The variants of an analysis' inputs made here (multiply=N), by their file names."""
    out = {}
    for sample in ANALYSES[analysis].files:
        for variant in variants():
            if variant is not None:
                out[f"{plan.variant_stem(sample.stem, variant)}.root"] = (
                    multiplied_path(analysis, sample, variant)
                )
    return out


def results_to_upload(wildcards):
    a = ANALYSES[wildcards.analysis]
    out = [f"{RESULTS}/{a.name}/histograms.root", f"{RESULTS}/{a.name}/cutflow.json"]
    out += analysis_outputs(a.name)
    return out


def upload_meta(pairs):
    return " ".join(
        f"--meta {k}={shlex.quote(json.dumps(v))}" for k, v in pairs.items()
    )
