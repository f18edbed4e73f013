rule process_chunk:
    input:
        process_input,
        analysis=analysis_files("selection.py", "solutions.yaml"),
    output:
        hist=f"{RESULTS}/{{analysis}}/chunks/{{stem}}/{{chunk}}.root",
        cutflow=f"{RESULTS}/{{analysis}}/chunks/{{stem}}/{{chunk}}.cutflow.json",
    log:
        f"{LOGS}/process_chunk/{{analysis}}/{{stem}}/{{chunk}}.log",
    resources:
        mem_mb=2000,
        disk_mb=500,
        runtime=30,
    params:
        cli=CLI,
        location=process_location,
        n_chunks=lambda w: n_chunks(w.analysis, sample_of(w.analysis, w.stem)),
        lumi=lambda w: lumi_pb(w.analysis),
        options=OPTIONS,
        sample=lambda w: sample_of(w.analysis, w.stem).stem,
    shell:
        "{params.cli} --log {log} process --analysis {wildcards.analysis} --file {params.sample}"
        " --input {params.location} --chunk {wildcards.chunk} --n-chunks {params.n_chunks}"
        " --lumi {params.lumi} --out {output.hist} --cutflow {output.cutflow}"
        " {params.options}"


# Multiplied data (multiply=N): one job processes the same chunk of all N variants of an
# input, one after the other, so that a run starts one job per chunk of the original data
# rather than N (a job's start, ~2 s, outweighs a small file's processing); same outputs,
# byte for byte, as N process_chunk jobs.
rule process_variants:
    input:
        variants_input,
        analysis=analysis_files("selection.py", "solutions.yaml"),
    output:
        hists=[
            f"{RESULTS}/{{analysis}}/chunks/{{stem}}.v{k}/{{chunk}}.root"
            for k in range(MULTIPLY)
        ],
        cutflows=[
            f"{RESULTS}/{{analysis}}/chunks/{{stem}}.v{k}/{{chunk}}.cutflow.json"
            for k in range(MULTIPLY)
        ],
    log:
        f"{LOGS}/process_chunk/{{analysis}}/{{stem}}.x{MULTIPLY}/{{chunk}}.log",
    resources:
        mem_mb=2000,
        disk_mb=500,
        runtime=30 * MULTIPLY,
    params:
        cli=CLI,
        n_chunks=lambda w: n_chunks(w.analysis, sample_of(w.analysis, w.stem)),
        lumi=lambda w: lumi_pb(w.analysis),
        options=OPTIONS,
        variants=lambda w, output: " ".join(
            f"--input {location} --out {hist} --cutflow {flow}"
            for location, hist, flow in zip(
                variants_location(w), output.hists, output.cutflows, strict=True
            )
        ),
    shell:
        "{params.cli} --log {log} process --analysis {wildcards.analysis}"
        " --file {wildcards.stem} {params.variants} --chunk {wildcards.chunk}"
        " --n-chunks {params.n_chunks} --lumi {params.lumi} {params.options}"


ruleorder: process_variants > process_chunk


rule merge_histograms:
    input:
        hists=lambda w: chunk_outputs(w.analysis),
        # read beside each chunk's histograms; declared so that they are transferred too
        # where there is no shared file system
        cutflows=lambda w: [
            h[: -len(".root")] + ".cutflow.json" for h in chunk_outputs(w.analysis)
        ],
    output:
        hists=f"{RESULTS}/{{analysis}}/histograms.root",
        cutflow=f"{RESULTS}/{{analysis}}/cutflow.json",
    log:
        f"{LOGS}/merge_histograms/{{analysis}}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cli=CLI,
    shell:
        "{params.cli} --log {log} merge --out {output.hists} --cutflow-out {output.cutflow}"
        " {input.hists}"


rule fit:
    input:
        hists=f"{RESULTS}/{{analysis}}/histograms.root",
        analysis=analysis_files(),
    output:
        report(
            f"{RESULTS}/{{analysis}}/fit.json",
            caption="../report/fit.rst",
            category="{analysis}",
            subcategory="fit",
        ),
    log:
        f"{LOGS}/fit/{{analysis}}.log",
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cli=CLI,
        options=OPTIONS,
    shell:
        "{params.cli} --log {log} fit --analysis {wildcards.analysis} --histograms {input.hists}"
        " --out {output} {params.options}"


# The plots: one job per analysis draws all of its histograms (one process imports
# matplotlib once, rather than one job per histogram); a rule per analysis, since each has
# its own list of histograms.
for _name, _analysis in ANALYSES.items():

    rule:
        name:
            f"plot_{_name}"
        input:
            hists=f"{RESULTS}/{_name}/histograms.root",
            fit=[f"{RESULTS}/{_name}/fit.json"] if _analysis.fit else [],
            analysis=str(_analysis.folder / "analysis.yaml"),
        output:
            png=[
                report(
                    f"{RESULTS}/{_name}/plots/{h.name}.png",
                    caption="../report/plot.rst",
                    category=_name,
                    subcategory="plots",
                    labels={"histogram": h.name},
                )
                for h in _analysis.histograms
            ],
            pdf=[f"{RESULTS}/{_name}/plots/{h.name}.pdf" for h in _analysis.histograms],
        log:
            f"{LOGS}/plot/{_name}.log",
        resources:
            mem_mb=1000,
            runtime=5,
        params:
            cli=CLI,
            analysis=_name,
            fit=lambda w, input: "".join(f"--fit {f}" for f in input.fit),
            outdir=lambda w, output: Path(output.png[0]).parent,
            options=OPTIONS,
        shell:
            "{params.cli} --log {log} plot --analysis {params.analysis}"
            " --histograms {input.hists} --outdir {params.outdir} {params.fit} {params.options}"


rule yields:
    input:
        cutflow=f"{RESULTS}/{{analysis}}/cutflow.json",
        analysis=analysis_files(),
    output:
        json=f"{RESULTS}/{{analysis}}/yields.json",
        table=report(
            f"{RESULTS}/{{analysis}}/yields.md",
            caption="../report/yields.rst",
            category="{analysis}",
            subcategory="yields",
        ),
    log:
        f"{LOGS}/yields/{{analysis}}.log",
    resources:
        mem_mb=500,
        runtime=5,
    params:
        cli=CLI,
        options=OPTIONS,
    shell:
        "{params.cli} --log {log} yields --analysis {wildcards.analysis} --cutflow {input.cutflow}"
        " --out {output.json} --table {output.table} {params.options}"


rule validate_analysis:
    input:
        unpack(validate_inputs),
        analysis=analysis_files("validation.yaml"),
    output:
        json=f"{RESULTS}/{{analysis}}/validation.json",
        table=report(
            f"{RESULTS}/{{analysis}}/validation.md",
            caption="../report/validation.rst",
            category="{analysis}",
            subcategory="validation",
        ),
    log:
        f"{LOGS}/validate/{{analysis}}.log",
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        cli=CLI,
        source=SOURCE,
        fit=lambda w, input: f"--fit {input.fit}" if "fit" in input.keys() else "",
        truth=lambda w, input: (
            "--truth " + " ".join(input.truth) if "truth" in input.keys() else ""
        ),
        base=lambda w, input: " ".join(
            f"--{key.replace('_', '-')} {getattr(input, key)}"
            for key in ("base_yields", "base_fit")
            if key in input.keys()
        ),
        multiplied=MULTIPLY,
        options=OPTIONS,
    shell:
        "{params.cli} --log {log} validate --analysis {wildcards.analysis}"
        " --source {params.source} --yields {input.yields} --histograms {input.hists}"
        " {params.fit} {params.truth} --multiplied {params.multiplied} {params.base}"
        " --out {output.json} --table {output.table} {params.options}"


rule manifest:
    input:
        unpack(manifest_inputs),
    output:
        report(
            f"{RESULTS}/{{analysis}}/manifest.json",
            caption="../report/manifest.rst",
            category="{analysis}",
            subcategory="provenance",
        ),
    log:
        f"{LOGS}/manifest/{{analysis}}.log",
    resources:
        mem_mb=500,
        runtime=30,
    params:
        cli=CLI,
        source=SOURCE,
        config=lambda w: CONFIG_JSON,
        inputs=lambda w: " ".join(
            f"--input {loc}" for loc in analysis_locations(w.analysis)
        ),
        results=lambda w, input: " ".join(f"--result {r}" for r in input.results),
        dids=lambda w: " ".join(f"--input-did {d}" for d in input_dids(w.analysis)),
    shell:
        "{params.cli} --log {log} manifest --analysis {wildcards.analysis}"
        " --source {params.source} --config {params.config} {params.inputs}"
        " {params.results} {params.dids} --out {output}"


# The results of an analysis written back to the Datalake (config rucio_results_rse) as
# the next version of the data set <analysis>.<run>.results; unchanged results are not
# written again.  The record lists the DID of every file and of every input.
rule upload_results:
    input:
        results_to_upload,
    output:
        f"{RESULTS}/{{analysis}}/datalake.json",
    log:
        f"{LOGS}/upload_results/{{analysis}}.log",
    resources:
        mem_mb=500,
        runtime=30,
    params:
        cli=CLI,
        folder=lambda w: f"{RESULTS}/{w.analysis}",
        base=lambda w: f"{w.analysis}.{RUN}.results",
        rse=config.get("rucio_results_rse", ""),
        scope=lambda w: (
            f"--scope {config['rucio_scope']}" if config.get("rucio_scope") else ""
        ),
        meta=lambda w: upload_meta(
            {"analysis": w.analysis, "run": RUN, "software": f"atlasod {__version__}"}
        ),
        dids=lambda w: " ".join(f"--input-did {d}" for d in input_dids(w.analysis)),
        results=lambda w, input: " ".join(f"--result {r}" for r in input),
    shell:
        "{params.cli} --log {log} rucio-upload-results --results {params.folder}"
        " {params.results} --base {params.base} {params.scope}"
        " --rse {params.rse} {params.meta} {params.dids} --out {output}"
