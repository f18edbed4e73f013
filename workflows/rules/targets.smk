for _name in ANALYSES:

    rule:
        name:
            _name
        input:
            analysis_outputs(_name),


# Compares each analysis' results with its reference values (validation.yaml) and fails
# with a table of what differs.
rule validate:
    input:
        validation_outputs(SELECTED),
