"""The runs: the workflow's steps on other executors, and why a run stopped.

Owns the chunk step on a Dask cluster (:mod:`~atlasod.run.daskrun`) and as a coffea processor
(:mod:`~atlasod.run.coffea_processor`), and the failure report at the end of a workflow's
output (:mod:`~atlasod.run.failures`).  The Snakemake rules themselves are the CLI's
subcommands (:mod:`atlasod.cli`).

Above :mod:`atlasod.results`, :mod:`atlasod.demo`, :mod:`atlasod.selection` and
:mod:`atlasod.data`; imports nothing of :mod:`atlasod.classroom`.
"""
