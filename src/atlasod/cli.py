"""Command-line interface: one subcommand per workflow step.

Every Snakemake rule is a shell call of one of these subcommands, so Snakemake
7.32 on REANA, Snakemake 9 locally and HTCondor jobs all run the same code::

    python -m atlasod <step> ...   (generate, fetch, process, merge, plot, fit, yields, ...)
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

from atlasod.errors import AtlasodError

LOG = logging.getLogger("atlasod")


def _console_filter(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or record.name == "atlasod.progress"


def _setup_logging(verbose: bool, log_file: Path | None) -> None:
    """Log to stderr; with ``--log FILE`` everything goes to the file and only warnings,
    errors and download progress (``atlasod.progress``) to stderr, so that a workflow's
    console shows what went wrong and how far a long download is."""
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(fmt)
    handlers: list[logging.Handler] = [console]
    if log_file is not None:
        console.addFilter(_console_filter)
        log_file.parent.mkdir(parents=True, exist_ok=True)
        to_file = logging.FileHandler(log_file, mode="w", encoding="utf-8")
        to_file.setFormatter(fmt)
        handlers.append(to_file)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=handlers, force=True
    )


def _catalogue(args: argparse.Namespace):  # noqa: ANN202 - lazy import keeps --help fast
    """The sample catalogue of the run: --catalogue, or the packaged one of --release."""
    from atlasod.data.catalogue import Catalogue

    return Catalogue.load(args.catalogue, args.release)


def _analysis(args: argparse.Namespace):  # noqa: ANN202 - lazy import keeps --help fast
    from atlasod.selection.analysis import load_analysis

    catalogue = _catalogue(args)
    return load_analysis(args.analyses_dir, args.analysis, catalogue), catalogue


def cmd_check(args: argparse.Namespace) -> None:
    analysis, _ = _analysis(args)
    _ = analysis.selection  # import the physics module too
    LOG.info(
        "analysis %s: %d files, %d histograms: OK",
        analysis.name,
        len(analysis.files),
        len(analysis.histograms),
    )


def cmd_generate(args: argparse.Namespace) -> None:
    from atlasod.demo.generate import generate_file

    analysis, catalogue = _analysis(args)
    sample = analysis.file(Path(args.file).name.removesuffix(".root"))
    lumi = args.lumi or analysis.lumi_pb
    generate_file(analysis, catalogue, sample, args.out, args.seed, args.scale, lumi)


def cmd_fetch(args: argparse.Namespace) -> None:
    from atlasod.data.fetch import fetch_file

    catalogue = _catalogue(args)
    sample = catalogue.file(args.file)
    urls = args.url or catalogue.urls(sample)
    fetch_file(
        sample,
        urls,
        args.out,
        timeout=args.timeout,
        verify_checksum=not args.no_verify,
        progress_every=args.progress_every,
    )


def cmd_multiply(args: argparse.Namespace) -> None:
    from atlasod.data.multiply import Variant, multiply_variants

    if len(args.variant) != len(args.out):
        raise AtlasodError("give one --out per --variant")
    outs = {
        Variant(seed=args.seed, number=k, smear=args.smear): out
        for k, out in zip(args.variant, args.out, strict=True)
    }
    multiply_variants(args.input, args.file, outs, _catalogue(args).release)


def _files_to_register(paths: list[Path]) -> list[Path]:
    """The files named, and the .root and .truth.json files under the folders named."""
    out: list[Path] = []
    for path in paths:
        if path.is_dir():
            out += sorted(p for p in path.rglob("*") if p.name.endswith((".root", ".truth.json")))
        elif path.is_file():
            out.append(path)
        else:
            raise AtlasodError(f"{path} does not exist")
    names = [p.name for p in out]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise AtlasodError(f"two files with the same name cannot be in one data set: {twice}")
    return out


def _meta(items: list[str] | None) -> dict[str, object]:
    import json

    out: dict[str, object] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise AtlasodError(f"--meta expects KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_rucio_register(args: argparse.Namespace) -> None:
    from atlasod.data import datalake

    files = _files_to_register(args.paths)
    _, name = datalake.parse_did(args.dataset)
    client = datalake.connect()
    with datalake.rucio_errors_explained(f"registering {args.dataset}"):
        dids = datalake.upload_dataset(
            client, {f"{name}.{p.name}": p for p in files}, args.dataset, args.rse, _meta(args.meta)
        )
    LOG.info("%s: %d files on %s", args.dataset, len(dids), args.rse)


def cmd_rucio_fetch(args: argparse.Namespace) -> None:
    from atlasod.data import datalake

    client = datalake.connect()
    with datalake.rucio_errors_explained(f"fetching {args.did}"):
        datalake.download(client, args.did, args.out)


def cmd_rucio_get(args: argparse.Namespace) -> None:
    from atlasod.data import datalake

    client = datalake.connect()
    with datalake.rucio_errors_explained(f"fetching {args.did}"):
        for f in datalake.dataset_files(client, args.did):
            datalake.download(client, f.did, args.out / f.name)


def cmd_rucio_upload_results(args: argparse.Namespace) -> None:
    from atlasod.data import datalake

    files = {str(p.relative_to(args.results)): p for p in args.result}
    client = datalake.connect()
    scope = args.scope or f"user.{client.account}"
    with datalake.rucio_errors_explained(f"writing the results of {args.base} back"):
        did, _, new = datalake.upload_versioned(
            client,
            files,
            scope,
            args.base,
            args.rse,
            meta=_meta(args.meta),
            record=args.out,
            inputs=args.input_did or [],
        )
    LOG.info("results %s %s", "registered as" if new else "unchanged: already in", did)


def cmd_process(args: argparse.Namespace) -> None:
    """One chunk of one input; or (multiplied data) the same chunk of several variants of
    it, one after the other in one process: ``--input/--out/--cutflow`` repeated, in step."""
    from atlasod.selection.chunk import process_chunk, write_chunk

    inputs, outs, cutflows = args.input, args.out, args.cutflow
    if not len(inputs) == len(outs) == len(cutflows):
        raise AtlasodError(
            f"process: {len(inputs)} --input, {len(outs)} --out and {len(cutflows)} --cutflow "
            "given: give one --out and one --cutflow for each --input, in the same order"
        )
    analysis, catalogue = _analysis(args)
    sample = analysis.file(args.file)
    for location, out, cutflow in zip(inputs, outs, cutflows, strict=True):
        result = process_chunk(
            analysis,
            sample,
            location,
            args.chunk,
            args.n_chunks,
            args.lumi or analysis.lumi_pb,
            catalogue,
            _options(args),
        )
        write_chunk(result, sample, out, cutflow)


def cmd_collect(args: argparse.Namespace) -> None:
    from atlasod.classroom.collect import collect

    collect(args.analysis, args.homes, args.out)


def cmd_class_sync(args: argparse.Namespace) -> None:
    from atlasod.classroom.sync import sync_class

    sync_class(args.source, args.dest)


def cmd_merge(args: argparse.Namespace) -> None:
    from atlasod.results.merging import merge

    merge(args.inputs, args.out, args.cutflow_out)


def cmd_plot(args: argparse.Namespace) -> None:
    from atlasod.results.plotting import plot_analysis

    analysis, _ = _analysis(args)
    plot_analysis(analysis, args.histograms, args.outdir, _options(args), args.fit, args.only)


def cmd_fit(args: argparse.Namespace) -> None:
    from atlasod.results.fitting import fit_analysis

    analysis, catalogue = _analysis(args)
    fit_analysis(analysis, args.histograms, args.out, _options(args), catalogue)


def cmd_yields(args: argparse.Namespace) -> None:
    from atlasod.results.yields import write_yields

    analysis, _ = _analysis(args)
    write_yields(analysis, args.cutflow, args.out, args.table, _options(args))


def cmd_validate(args: argparse.Namespace) -> None:
    from atlasod.results.validation import read_inputs, validate_multiplied, validate_run

    analysis, _ = _analysis(args)
    inputs = read_inputs(args.yields, args.fit, args.histograms, args.truth or [], _options(args))
    if args.multiplied == 1:
        validate_run(analysis, args.source, inputs, args.out, args.table)
        return
    if args.base_yields is None:
        raise AtlasodError("--multiplied needs --base-yields (and --base-fit if there is a fit)")
    base = read_inputs(args.base_yields, args.base_fit, None, [])
    validate_multiplied(analysis, args.source, args.multiplied, base, inputs, args.out, args.table)


def cmd_manifest(args: argparse.Namespace) -> None:
    import json

    from atlasod.results.provenance import write_manifest

    analysis, catalogue = _analysis(args)
    try:
        config = json.loads(args.config)
    except json.JSONDecodeError as exc:
        raise AtlasodError(f"--config is not valid JSON: {exc}") from exc
    write_manifest(
        analysis,
        catalogue,
        args.source,
        config,
        args.input or [],
        args.result or [],
        args.out,
        Path.cwd(),
        input_dids=args.input_did,
    )


def cmd_dask(args: argparse.Namespace) -> None:
    from atlasod.run.daskrun import run
    from atlasod.yamlio import load_yaml

    config_path = args.configfile
    if not config_path.is_file():
        raise AtlasodError(f"workflow config {config_path} does not exist (see --configfile)")
    config = load_yaml(config_path.read_text("utf-8"))
    for item in args.config or []:
        key, sep, value = item.partition("=")
        if not sep or key not in config:
            raise AtlasodError(f"--config expects KEY=VALUE with a key of {config_path}: {item!r}")
        config[key] = load_yaml(value)
    args.release = args.release or str(config.get("release") or "") or None
    analysis, _ = _analysis(args)
    run(
        analysis,
        config,
        args.analyses_dir,
        str(args.catalogue) if args.catalogue else None,
        args.scheduler,
        args.workers,
        args.engine,
    )


def cmd_new(args: argparse.Namespace) -> None:
    from atlasod.classroom.templates import create

    folder = create(
        args.name, args.template, args.analyses_dir, args.without_solutions, args.release
    )
    on = f" release={args.release}" if args.release else ""
    LOG.info(
        "created %s from template %s; run it with: snakemake --cores 4 %s --config source=demo%s",
        folder,
        args.template,
        args.name,
        on,
    )


def cmd_notebook(args: argparse.Namespace) -> None:
    from atlasod.classroom.notebook import notebook_name, write_notebook

    analysis, _ = _analysis(args)
    out = args.out or Path("notebooks") / f"{notebook_name(analysis)}.py"
    write_notebook(analysis, out)
    LOG.info("wrote %s (jupytext percent format; jupytext --to ipynb %s)", out, out)


def _options(args: argparse.Namespace) -> dict[str, bool]:
    out: dict[str, bool] = {}
    for item in args.option or []:
        key, sep, value = item.partition("=")
        if not sep or value.lower() not in ("true", "false"):
            raise AtlasodError(f"--option expects KEY=true|false, got {item!r}")
        out[key] = value.lower() == "true"
    return out


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="atlasod", description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument(
        "--log",
        type=Path,
        help="write the log to this file (stderr then shows warnings and errors)",
    )
    parser.add_argument(
        "--catalogue", type=Path, help="sample catalogue (default: the packaged one of --release)"
    )
    parser.add_argument(
        "--release",
        help="the release of the files read, e.g. 2020 or 2025e (default: the catalogue's; "
        "2020 for the packaged catalogue)",
    )
    parser.add_argument("--analyses-dir", type=Path, default=Path("analyses"))
    sub = parser.add_subparsers(dest="command", required=True)

    def add(
        name: str, func: Callable[[argparse.Namespace], None], help_: str, analysis: bool = True
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        if analysis:
            p.add_argument("--analysis", required=True, help="analysis folder name, e.g. hyy")
        return p

    add("check", cmd_check, "validate an analysis folder (config and physics module)")

    p = add("generate", cmd_generate, "write the demo (synthetic) version of one file")
    p.add_argument("--file", required=True, help="catalogue file name, e.g. data_A.GamGam.root")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--scale", type=float, default=1.0, help="multiplies the demo event counts")
    p.add_argument(
        "--lumi", type=float, help="luminosity in pb^-1 (default: the analysis' on its release)"
    )

    p = add(
        "fetch", cmd_fetch, "download one file into the cache (resumable, verified)", analysis=False
    )
    p.add_argument("--file", required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument(
        "--url", action="append", help="location to try (repeatable; default: catalogue)"
    )
    p.add_argument(
        "--timeout", type=float, default=30.0, help="seconds without data before giving up"
    )
    p.add_argument("--no-verify", action="store_true", help="skip the size and adler32 check")
    p.add_argument(
        "--progress-every", type=float, default=5.0, help="seconds between progress lines"
    )

    p = add(
        "multiply",
        cmd_multiply,
        "write variants of a mini file (smeared, φ-rotated, renumbered; multiplied data)",
        analysis=False,
    )
    p.add_argument("--file", required=True, help="catalogue file name (seeds the variant)")
    p.add_argument("--input", required=True, help="local path or URL (https://, root://)")
    p.add_argument("--variant", type=int, action="append", required=True, help="0, 1, ...")
    p.add_argument(
        "--out", type=Path, action="append", required=True, help="its file (one per --variant)"
    )
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--smear", type=float, default=0.3, help="smearing as a fraction of the resolution"
    )

    p = add(
        "rucio-register",
        cmd_rucio_register,
        "upload files as a new Rucio data set (all or nothing); file DIDs <data set>.<file>",
        analysis=False,
    )
    p.add_argument("--dataset", required=True, help="the data set's DID, scope:name")
    p.add_argument("--rse", required=True, help="the RSE to write to")
    p.add_argument("--meta", action="append", help="KEY=VALUE metadata of the data set")
    p.add_argument("paths", type=Path, nargs="+", help="files, or folders (.root, .truth.json)")

    p = add("rucio-fetch", cmd_rucio_fetch, "download one file by Rucio DID, verified", False)
    p.add_argument("--did", required=True, help="scope:name")
    p.add_argument("--out", type=Path, required=True)

    p = add("rucio-get", cmd_rucio_get, "download every file of a Rucio data set", False)
    p.add_argument("--did", required=True, help="the data set's DID, scope:name")
    p.add_argument("--out", type=Path, required=True, help="folder")

    p = add(
        "rucio-upload-results",
        cmd_rucio_upload_results,
        "write results back to the Datalake as the next version of a data set",
        analysis=False,
    )
    p.add_argument("--results", type=Path, required=True, help="the results folder")
    p.add_argument("--result", type=Path, action="append", required=True, help="a file in it")
    p.add_argument("--base", required=True, help="data set name without version")
    p.add_argument("--scope", help="default: user.<account>")
    p.add_argument("--rse", required=True)
    p.add_argument("--meta", action="append", help="KEY=VALUE metadata of the data set")
    p.add_argument("--input-did", action="append", help="DID of an input (recorded)")
    p.add_argument("--out", type=Path, required=True, help="the record of the upload (JSON)")

    p = add("process", cmd_process, "select events of one chunk and fill histograms")
    p.add_argument("--file", required=True, help="sample stem, e.g. data_A.GamGam")
    p.add_argument(
        "--input",
        required=True,
        action="append",
        help="local path or URL (https://, root://); repeated (with --out and --cutflow) for "
        "the variants of multiplied data",
    )
    p.add_argument("--chunk", type=int, default=0)
    p.add_argument("--n-chunks", type=int, default=1)
    p.add_argument(
        "--lumi", type=float, help="luminosity in pb^-1 (default: the analysis' on its release)"
    )
    p.add_argument("--out", type=Path, required=True, action="append")
    p.add_argument("--cutflow", type=Path, required=True, action="append")
    p.add_argument("--option", action="append", help="KEY=true|false analysis switch")

    p = add("merge", cmd_merge, "sum chunk histograms and cutflows", analysis=False)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--cutflow-out", type=Path, required=True)
    p.add_argument("inputs", type=Path, nargs="+", help="chunk .root files (cutflow .json beside)")

    p = add("plot", cmd_plot, "data/MC plots in ATLAS style (PNG and PDF)")
    p.add_argument("--histograms", type=Path, required=True)
    p.add_argument("--outdir", type=Path, required=True)
    p.add_argument("--fit", type=Path, help="fit result JSON to draw")
    p.add_argument("--only", action="append", help="plot only this histogram (repeatable)")
    p.add_argument("--option", action="append", help="KEY=true|false analysis switch")

    p = add("fit", cmd_fit, "fit the analysis' fit model to data")
    p.add_argument("--histograms", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--option", action="append", help="KEY=true|false analysis switch")

    p = add("yields", cmd_yields, "yields per process and cutflow, as JSON and Markdown")
    p.add_argument("--cutflow", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--table", type=Path, required=True)
    p.add_argument("--option", action="append", help="KEY=true|false analysis switch")

    p = add("validate", cmd_validate, "compare results with reference values (validation.yaml)")
    p.add_argument("--source", required=True, choices=["demo", "real"])
    p.add_argument("--yields", type=Path, required=True)
    p.add_argument("--fit", type=Path)
    p.add_argument("--histograms", type=Path)
    p.add_argument("--truth", type=Path, nargs="*", help="generator truth of the data files")
    p.add_argument(
        "--multiplied",
        type=int,
        default=1,
        help="the run read data multiplied N times: compare it with the unmultiplied run "
        "(--base-yields, --base-fit) instead of the reference values",
    )
    p.add_argument("--base-yields", type=Path, help="yields.json of the unmultiplied run")
    p.add_argument("--base-fit", type=Path, help="fit.json of the unmultiplied run")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--table", type=Path, required=True)
    p.add_argument("--option", action="append", help="KEY=true|false analysis switch")

    p = add("manifest", cmd_manifest, "record inputs, software, config and results of a run")
    p.add_argument("--source", required=True, choices=["demo", "real"])
    p.add_argument("--config", required=True, help="the workflow config as JSON")
    p.add_argument("--input", action="append", help="input file path or URL (repeatable)")
    p.add_argument("--result", type=Path, action="append", help="result file to checksum")
    p.add_argument("--input-did", action="append", help="Rucio DID of an input (repeatable)")
    p.add_argument("--out", type=Path, required=True)

    p = add("dask", cmd_dask, "run the chunk and merge steps of an analysis on a Dask cluster")
    p.add_argument("--scheduler", help="scheduler address, e.g. tcp://host:8786 (default: local)")
    p.add_argument("--workers", type=int, default=2, help="workers of the local cluster")
    p.add_argument(
        "--engine",
        choices=["chunks", "coffea"],
        default="chunks",
        help="chunks: the workflow's chunk jobs (byte-identical histograms); coffea: a coffea "
        "processor with coffea's DaskExecutor",
    )
    p.add_argument(
        "--configfile",
        type=Path,
        default=Path("workflows/config/config.yaml"),
        help="workflow config to read (source, data_dir, results_dir, chunk_entries, ...)",
    )
    p.add_argument("--config", nargs="*", help="KEY=VALUE overrides, as for snakemake")

    p = add(
        "collect",
        cmd_collect,
        "teachers: copy every student's results of an analysis into one folder, with a summary",
    )
    p.add_argument("--out", type=Path, required=True, help="folder to (re)write")
    p.add_argument("homes", type=Path, nargs="+", help="the students' home folders, e.g. /home/*")

    p = add(
        "class-sync",
        cmd_class_sync,
        "students (at every login): bring the teacher's course material into your home; files "
        "you changed are kept, the teacher's new version beside them as <name>.new",
        analysis=False,
    )
    p.add_argument("--source", type=Path, required=True, help="the teacher's course folder")
    p.add_argument("--dest", type=Path, required=True, help="the folder in your home")

    p = add("notebook", cmd_notebook, "write the notebook view of an analysis (jupytext)")
    p.add_argument("--out", type=Path, help="default: notebooks/<analysis>.py")

    from atlasod.classroom.templates import available

    p = add("new", cmd_new, "create a new analysis folder from a template", analysis=False)
    p.add_argument("name", help="name of the new analysis (and of its workflow target)")
    p.add_argument("--from", dest="template", required=True, choices=available())
    p.add_argument(
        "--without-solutions",
        action="store_true",
        help="leave out solutions.yaml (the copy to give to students)",
    )
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose, args.log)
    try:
        args.func(args)
    except AtlasodError as exc:
        LOG.error("%s", exc)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
