# ATLAS Open Data 13 TeV (2020) analyses as one workflow.
#   snakemake --cores 8 hyy                       # real data (needs internet)
#   snakemake --cores 2 hyy hzz --config source=demo   # generated data, offline
# Targets: one per folder under analyses/, and `all`.  Runs on Snakemake 7.32 (REANA) and 9.x.


configfile: "workflows/config/config.yaml"


# Every rule runs in the versioned image of the package (--software-deployment-method
# apptainer, REANA); locally the active Python environment is used.
container: config["container"]


include: "workflows/rules/common.smk"
include: "workflows/rules/targets.smk"
include: "workflows/rules/data.smk"
include: "workflows/rules/analysis.smk"


# The default target is defined here, not in an included file: Snakemake 7.32 (REANA's
# engine) ignores default targets set inside includes.
rule all:
    default_target: True
    input:
        [analysis_outputs(name) for name in SELECTED],


# One run at a time writes a results folder: a second one is refused, naming the first.
onstart:
    take_run_lock()


# Snakemake says "Error in rule …: message: None" and names the job's log; the reason and
# what to do are in that log.  Repeat them at the end of the terminal output.
onerror:
    failure_lines = failures.summary(log)
    if failure_lines:
        sys.stderr.write(
            "\natlasod: why the workflow stopped\n"
            + "\n".join(failure_lines)
            + "\n"
        )
