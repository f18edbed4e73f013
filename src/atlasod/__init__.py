"""ATLAS Open Data 13 TeV analyses as reproducible workflows.

The subpackages are the stages of the data flow, each importing only the ones below it
(``tests/test_imports.py`` checks it):

- :mod:`atlasod.data`: what a release is and where its files are; reading the trees;
- :mod:`atlasod.selection`: an analysis folder, its selection and the chunk step;
- :mod:`atlasod.results` (merge, yields, fits, validation, plots, manifest) and, beside it,
  :mod:`atlasod.demo` (synthetic data with known physics);
- :mod:`atlasod.run` (Dask, coffea, failure reports) and, beside it,
  :mod:`atlasod.classroom` (collect, class-sync, notebooks, templates).

At the top level only what every stage shares (:mod:`~atlasod.errors`,
:mod:`~atlasod.yamlio`, the histogram files and atomic writes of :mod:`~atlasod.histio`, the
locks of :mod:`~atlasod.runlock`) and the command line (:mod:`~atlasod.cli`), which calls
every stage.
"""

__version__ = "0.1.0"
