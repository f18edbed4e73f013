"""The classroom: what a teacher and a class of students use around the workflow.

Owns collecting every student's results into one table (:mod:`~atlasod.classroom.collect`),
delivering the course material into students' homes (:mod:`~atlasod.classroom.sync`), the
notebook view of an analysis (:mod:`~atlasod.classroom.notebook`) and the template gallery
that new analysis folders are made from (:mod:`~atlasod.classroom.templates`; the folders
themselves are data, in ``atlasod/templates/``).

The top stage beside :mod:`atlasod.run`: it may import every stage below it, and imports
nothing of :mod:`atlasod.run`.
"""
