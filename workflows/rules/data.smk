rule generate_demo:
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
        lumi=config["lumi_pb"],
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


# One variant of an input file (multiply=N): smeared, rotated in φ, renumbered; streamed,
# so a job's memory does not grow with the file.
rule multiply:
    input:
        lambda w: [] if "://" in multiply_location(w) else multiply_location(w),
    output:
        f"{MULTIPLIED}/{{origin}}/{{skim}}/{{kind}}/{{stem}}.v{{variant}}.root",
    log:
        f"{LOGS}/multiply/{{origin}}/{{skim}}/{{kind}}/{{stem}}.v{{variant}}.log",
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        cli=CLI,
        location=multiply_location,
        seed=config.get("multiply_seed", 1),
        smear=config.get("multiply_smear", 0.3),
    shell:
        "{params.cli} --log {log} multiply --file {wildcards.stem}.root"
        " --input {params.location} --out {output} --variant {wildcards.variant}"
        " --seed {params.seed} --smear {params.smear}"
