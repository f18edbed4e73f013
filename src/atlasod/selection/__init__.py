"""The selection: from an analysis folder and a chunk of events to weighted histograms.

Owns the analysis folder and its schema (:mod:`~atlasod.selection.analysis`), the expression
language and its functions (:mod:`~atlasod.selection.expressions`,
:mod:`~atlasod.selection.expression_functions`), the flat-column engine of the declarative
selections (:mod:`~atlasod.selection.columns`, :mod:`~atlasod.selection.declarative`), the
physics building blocks of the Python selections (:mod:`~atlasod.selection.physics`) and the
chunk step that reads, selects, weights and fills (:mod:`~atlasod.selection.chunk`).

Above :mod:`atlasod.data` (it reads the trees and the catalogue through it); imports nothing
of :mod:`atlasod.results`, :mod:`atlasod.demo`, :mod:`atlasod.run` or
:mod:`atlasod.classroom`.
"""
