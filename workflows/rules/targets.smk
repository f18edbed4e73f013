for _name in ANALYSES:

    rule:
        name:
            _name
        input:
            analysis_outputs(_name),


# An analysis folder that does not run on this release: its target says so.
for _name in sorted(set(discover(ANALYSES_DIR)) - set(ANALYSES)):

    rule:
        name:
            _name
        input:
            lambda w, name=_name: not_on_this_release(name),


# Compares each analysis' results with its reference values (validation.yaml) and fails
# with a table of what differs.
rule validate:
    input:
        validation_outputs(SELECTED),


# The results of the selected analyses written back to the Datalake (rucio_results_rse).
rule datalake:
    input:
        [f"{RESULTS}/{name}/datalake.json" for name in SELECTED],


# The multiplied data of the selected analyses written to the Datalake
# (multiply=N, rucio_multiplied_rse).
rule multiplied_datalake:
    input:
        [f"{RESULTS}/{name}/multiplied.datalake.json" for name in SELECTED],
