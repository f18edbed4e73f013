# ATLAS Open Data 13 TeV (2020) analyses as one workflow.
#   snakemake --cores 8 hyy                       # real data (needs internet)
#   snakemake --cores 2 hyy hzz --config source=demo   # generated data, offline
# Targets: one per folder under analyses/, and `all`.  Runs on Snakemake 7.32 (REANA) and 9.x.


configfile: "workflows/config/config.yaml"


include: "workflows/rules/common.smk"
include: "workflows/rules/targets.smk"
include: "workflows/rules/data.smk"
include: "workflows/rules/analysis.smk"
