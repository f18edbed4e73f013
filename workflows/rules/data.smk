rule generate_demo:
    input:
        analysis=analysis_files("demo.py"),
    output:
        root=f"{DATA}/demo/{{analysis}}/{{skim}}/{{kind}}/{{file}}",
        truth=f"{DATA}/demo/{{analysis}}/{{skim}}/{{kind}}/{{file}}.truth.json",
    log:
        f"{LOGS}/generate_demo/{{analysis}}/{{skim}}/{{kind}}/{{file}}.log",
    resources:
        mem_mb=lambda w: demo_memory_mb(w.analysis, w.file),
        runtime=30,
    params:
        cli=CLI,
        seed=config["seed"],
        scale=config["demo_scale"],
        lumi=lambda w: lumi_pb(w.analysis),
    shell:
        "{params.cli} --log {log} generate --analysis {wildcards.analysis} --file {wildcards.file}"
        " --out {output.root} --seed {params.seed} --scale {params.scale}"
        " --lumi {params.lumi}"


rule fetch:
    output:
        f"{DATA}/real/{{skim}}/{{kind}}/{{file}}",
    log:
        f"{LOGS}/fetch/{{skim}}/{{kind}}/{{file}}.log",
    resources:
        mem_mb=500,
        disk_mb=lambda w: fetch_disk_mb(w.file),
        runtime=240,
    params:
        cli=CLI,
        urls=lambda w: " ".join(f"--url {u}" for u in locations(CATALOGUE.file(w.file))),
        timeout=config.get("fetch_timeout", 30),
    shell:
        "{params.cli} --log {log} fetch --file {wildcards.file} --out {output} {params.urls}"
        " --timeout {params.timeout}"


# The variants of an input file (multiply=N): smeared, rotated in φ, renumbered; the
# input is read once and streamed, so a job's memory does not grow with the file.
rule multiply:
    input:
        lambda w: local_only(multiply_location(w)),
    output:
        [
            f"{MULTIPLIED}/{{origin}}/{{skim}}/{{kind}}/{{stem}}.v{k}.root"
            for k in range(MULTIPLY)
        ],
    log:
        f"{LOGS}/multiply/{{origin}}/{{skim}}/{{kind}}/{{stem}}.log",
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        cli=CLI,
        location=multiply_location,
        seed=config.get("multiply_seed", 1),
        smear=config.get("multiply_smear", 0.3),
        variants=lambda w, output: " ".join(
            f"--variant {k} --out {out}" for k, out in enumerate(output)
        ),
    shell:
        "{params.cli} --log {log} multiply --file {wildcards.stem}.root"
        " --input {params.location} {params.variants}"
        " --seed {params.seed} --smear {params.smear}"


# An input read by Rucio DID (config rucio_inputs): downloaded from a replica, adler32
# checked against Rucio's.
rule fetch_did:
    output:
        f"{DATA}/rucio/{{scope}}/{{name}}",
    log:
        f"{LOGS}/fetch_did/{{scope}}/{{name}}.log",
    resources:
        mem_mb=500,
        runtime=60,
    params:
        cli=CLI,
    shell:
        "{params.cli} --log {log} rucio-fetch --did {wildcards.scope}:{wildcards.name}"
        " --out {output}"


# The variants made here (multiply=N) written to the Datalake as a data set, with its
# source, factor, seed, smearing and software version as metadata.
rule upload_multiplied:
    input:
        lambda w: list(variant_files(w.analysis).values()),
    output:
        f"{RESULTS}/{{analysis}}/multiplied.datalake.json",
    log:
        f"{LOGS}/upload_multiplied/{{analysis}}.log",
    resources:
        mem_mb=500,
        runtime=60,
    params:
        cli=CLI,
        root=MULTIPLIED,
        base=lambda w: f"{w.analysis}.{SOURCE}.x{MULTIPLY}.{Path(MULTIPLIED).name}",
        rse=config.get("rucio_multiplied_rse", ""),
        scope=lambda w: (
            f"--scope {config['rucio_scope']}" if config.get("rucio_scope") else ""
        ),
        meta=lambda w: upload_meta(
            {
                "source_datasets": RUCIO_INPUTS or f"local {SOURCE} files",
                "factor": MULTIPLY,
                "seed": config.get("multiply_seed", 1),
                "smear": config.get("multiply_smear", 0.3),
                "software": f"atlasod {__version__}",
            }
        ),
        dids=lambda w: " ".join(f"--input-did {d}" for d in input_dids(w.analysis)),
        results=lambda w, input: " ".join(f"--result {r}" for r in input),
    shell:
        "{params.cli} --log {log} rucio-upload-results --results {params.root}"
        " {params.results} --base {params.base} {params.scope}"
        " --rse {params.rse} {params.meta} {params.dids} --out {output}"
