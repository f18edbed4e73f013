"""The results: from the chunks' histograms to what a physicist reads.

Owns merging the chunks (:mod:`~atlasod.results.merging`), the yields and cutflow tables
(:mod:`~atlasod.results.yields`), the fits and statistical models
(:mod:`~atlasod.results.fitting`, :mod:`~atlasod.results.statistics`), the comparison with
the originals' numbers (:mod:`~atlasod.results.validation`), the plots
(:mod:`~atlasod.results.plotting`) and the provenance manifest
(:mod:`~atlasod.results.provenance`).

Above :mod:`atlasod.selection` and :mod:`atlasod.data`; imports nothing of
:mod:`atlasod.demo`, :mod:`atlasod.run` or :mod:`atlasod.classroom`.
"""
