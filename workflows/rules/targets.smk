rule all:
    input:
        [analysis_outputs(name) for name in SELECTED],
    default_target: True


for _name in ANALYSES:

    rule:
        name:
            _name
        input:
            analysis_outputs(_name),
