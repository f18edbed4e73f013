"""The demo data: synthetic release files with known physics, for offline runs and tests.

Owns the generator (:mod:`~atlasod.demo.generate`: one file of a sample, in the release's
schema, reproducible from the seed), the kinematics demo models build events from
(:mod:`~atlasod.demo.kinematics`) and the engine's generic models for analyses without a
``demo.py`` of their own (:mod:`~atlasod.demo.models`).

Beside :mod:`atlasod.results`, above :mod:`atlasod.selection` (a demo model is chosen by the
analysis folder) and :mod:`atlasod.data`; imports nothing of :mod:`atlasod.results`,
:mod:`atlasod.run` or :mod:`atlasod.classroom`.
"""
