rule all:
    default_target: True
    input:
        [analysis_outputs(name) for name in SELECTED],


for _name in ANALYSES:

    rule:
        name:
            _name
        input:
            analysis_outputs(_name),
