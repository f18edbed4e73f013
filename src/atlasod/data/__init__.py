"""The data: what a release is and where its files are.

Owns what a release is, as data (:mod:`~atlasod.data.release`: its tree, branches, units and
periods, from ``data/releases/<name>.yaml``), the sample catalogue with its
normalisation and download locations (:mod:`~atlasod.data.catalogue`), the download into the
cache and its checks (:mod:`~atlasod.data.fetch`, :mod:`~atlasod.data.cache`), reading and
writing the trees (:mod:`~atlasod.data.trees`), which files a job reads and how they are cut
into chunks (:mod:`~atlasod.data.plan`), multiplied data (:mod:`~atlasod.data.multiply`) and
the Rucio Datalake (:mod:`~atlasod.data.datalake`).

The bottom stage: it uses only the shared top-level modules (errors, YAML, histogram files,
locks) and imports nothing of :mod:`atlasod.selection` or any stage above it.
"""
