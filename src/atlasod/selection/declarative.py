"""Analyses written as configuration alone: objects, variables and cuts as expressions.

An ``analysis.yaml`` without a ``selection.py`` describes its selection with::

    objects:                     # good objects: a collection and a per-object condition
      goodlep:
        collection: lep
        where: "lep_isTightID and lep_pt > 25*GeV and abs(lep_eta) < 2.5"
    variables:                   # derived quantities, in order (later ones may use earlier)
      n_lep: "count(goodlep_pt)"
      mll: "pair_mass(goodlep, 0, 1) / GeV"
    cuts:                        # event selection, in order: the cutflow
      - {name: trigger, expr: "trigE or trigM"}
      - {name: two leptons, expr: "n_lep == 2"}
      - {name: Z window, expr: "abs(mll - 91.19) < window"}
    exercises:                   # values left to the student (see below)
      window: {question: "Half-width of the Z mass window (GeV)?"}

Expressions are checked when the analysis is loaded (:mod:`atlasod.selection.expressions`): an error
names the file, line, column and token.  An object ``goodlep`` of collection ``lep`` gives the
names ``goodlep`` (the objects, for ``pair_mass``/``system_mass``) and ``goodlep_<field>`` for
every field of the collection.  Histograms use variables, object fields or branches.

Exercises: a cut that uses an exercise name is not applied unless its value is known;
plots then carry a banner.  Teachers keep the values in ``solutions.yaml`` next to the
analysis (not given to students) and run with ``--config solutions=true``.

numpy and awkward are imported only where events are processed: the Snakefile loads the
analyses (and checks their expressions) where they are absent (REANA's workflow engine).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from atlasod.data.release import Release
from atlasod.errors import AtlasodError
from atlasod.selection.expressions import (
    MEMO,
    Expression,
    Kind,
    Origin,
    compile_expression,
    expression_error,
)
from atlasod.yamlio import compose_yaml, load_yaml

SOLUTIONS_NAME = "solutions.yaml"


def yaml_positions(text: str) -> dict[tuple[Any, ...], tuple[int, int, int]]:
    """(first line, column, last line), 1-based, of every scalar of a YAML document, keyed by
    its path.  Block scalars (``>-``, ``|``) start on the line after their indicator."""
    positions: dict[tuple[Any, ...], tuple[int, int, int]] = {}

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))
        else:
            style = getattr(node, "style", None)
            line, column = node.start_mark.line + 1, node.start_mark.column + 1
            if style in ("'", '"'):  # a quoted scalar starts one column after its quote
                column += 1
            elif style in (">", "|"):
                line, column = line + 1, 1
            positions[path] = (line, column, node.end_mark.line + 1)

    root = compose_yaml(text)
    if root is not None:
        walk(root, ())
    return positions


@dataclass(frozen=True)
class ObjectDef:
    """Objects ``name``: those of the release's ``collection`` (or, when ``parent`` is set,
    the objects ``parent``, themselves of that collection) for which ``where`` holds."""

    name: str
    collection: str
    where: Expression | None
    parent: str | None = None

    @property
    def source(self) -> str:
        """What the objects are chosen from: the parent object, or the collection."""
        return self.parent or self.collection


@dataclass(frozen=True)
class Cut:
    name: str
    expr: Expression
    exercises: tuple[str, ...]


class DeclarativeSelection:
    """The selection of a declarative analysis, with the interface of a ``selection.py``
    module: ``BRANCHES`` and ``select_events(events, options)``."""

    def __init__(
        self,
        raw: dict[str, Any],
        config_path: Path,
        release: Release,
        overlay: tuple[str, ...] = (),
    ) -> None:
        """``overlay``: where in the file the release's block is (``("releases",
        "2025e")``), whose expressions replace the top level's (positions in errors)."""
        self.config_path = config_path
        self.release = release
        collections = release.collections
        text = config_path.read_text("utf-8")
        positions = yaml_positions(text)

        lines = text.splitlines()

        def origin(*path: Any) -> Origin:
            line, col, last = positions.get(overlay + path) or positions.get(path, (0, 1, 0))
            source = tuple(lines[line - 1 : last]) if line else ()
            return Origin(str(config_path), line, col, source)

        branches = set(release.branch_names())
        known: set[str] = set(branches)
        # what each name gives: one value per object of its collection, per event otherwise
        kinds = {b: Kind(c) for b, c in release.object_branches().items()}
        self.exercises: dict[str, dict[str, Any]] = dict(raw.get("exercises") or {})
        known |= set(self.exercises)
        # workflow switches, true or false in expressions
        self.switches: dict[str, bool] = {
            name: bool(spec["default"]) for name, spec in (raw.get("switches") or {}).items()
        }
        for name in self.switches:
            self._check_name(name, known, origin("switches", name), "switch")
        known |= set(self.switches)
        self.objects: list[ObjectDef] = []
        for name, spec in (raw.get("objects") or {}).items():
            self._check_name(name, known, origin("objects", name), "object")
            source = spec["collection"]  # a collection of the release, or an object above
            parent = next((o for o in self.objects if o.name == source), None)
            collection = parent.collection if parent is not None else source
            if parent is None and collection not in collections:
                defined = [o.name for o in self.objects]
                raise AtlasodError(
                    f"{config_path}: object {name}: release {release.name} has no "
                    f"collection {collection!r}; its collections: {', '.join(collections)}"
                    + (f" (or an object defined above: {', '.join(defined)})" if defined else "")
                )
            where = spec.get("where")
            expr = None
            if where is not None:
                expr = compile_expression(
                    where, known, origin("objects", name, "where"), kinds, release.units
                )
                if expr.kind != Kind(source):
                    raise expression_error(
                        expr,
                        f"the condition of object '{name}' must give one value per object of "
                        f"its collection {source} (it gives "
                        + (
                            "one value per event"
                            if expr.kind is None or expr.kind.objects is None
                            else f"values of {expr.kind.objects}"
                        )
                        + ")",
                    )
            self.objects.append(
                ObjectDef(name, collection, expr, parent.name if parent is not None else None)
            )
            known.add(name)
            known |= {f"{name}_{field}" for field in collections[collection]}
            kinds[name] = Kind(name, handle=True)
            kinds.update({f"{name}_{field}": Kind(name) for field in collections[collection]})
        self.variables: list[tuple[str, Expression]] = []
        for name, text_expr in (raw.get("variables") or {}).items():
            self._check_name(name, known, origin("variables", name), "variable")
            expr = compile_expression(
                text_expr, known, origin("variables", name), kinds, release.units
            )
            assert expr.kind is not None
            kinds[name] = expr.kind
            if expr.names & set(self.exercises):
                where = origin("variables", name)
                raise AtlasodError(
                    f"{where.file}:{where.line}: variable '{name}' uses an exercise "
                    f"({', '.join(sorted(expr.names & set(self.exercises)))}); exercises can "
                    "only be used in cuts"
                )
            self.variables.append((name, expr))
            known.add(name)
        self.cuts: list[Cut] = []
        for i, cut in enumerate(raw.get("cuts") or []):
            expr = compile_expression(
                cut["expr"], known, origin("cuts", i, "expr"), kinds, release.units
            )
            if expr.kind != Kind():
                raise expression_error(
                    expr,
                    f"cut '{cut['name']}' gives one value per object, not per event: "
                    "use any(...), all(...) or count(...)",
                )
            used = tuple(sorted(expr.names & set(self.exercises)))
            self.cuts.append(Cut(cut["name"], expr, used))
        self.known = known
        self._branches = branches
        # by name, for the frames that evaluate them (declarative._Frame)
        self.variable_exprs = dict(self.variables)
        self.object_defs = {o.name: o for o in self.objects}
        self.object_fields = {  # <object>_<field> -> (object, field)
            f"{o.name}_{f}": (o.name, f) for o in self.objects for f in collections[o.collection]
        }
        self.histogram_names: set[str] = set()
        # cut name -> the variables of the histograms filled after it (not after the last)
        self.stage_variables: dict[str, set[str]] = {}
        self.fields: dict[str, list[str]] = {}
        self.BRANCHES: list[str] = []
        self.needed_after: list[set[str]] = []
        self._finalise()

    def _finalise(self) -> None:
        """What to read: the branches named anywhere, and of each object collection only
        the fields used (pT, η, φ, E too where the object itself is passed to a function)."""
        used = set(self.histogram_names)
        expressions = [o.where for o in self.objects if o.where is not None]
        expressions += [e for _, e in self.variables] + [c.expr for c in self.cuts]
        for expr in expressions:
            used |= expr.names
        read = used & self._branches
        for obj in self.objects:
            collection_fields = self.release.collections[obj.collection]
            fields = [f for f in collection_fields if f"{obj.name}_{f}" in used]
            if obj.name in used:  # whole objects (system_mass): their four-momenta
                momentum = {"pt", "eta", "phi"} | ({"E", "e"} & set(collection_fields))
                fields = sorted(set(fields) | momentum)
            if not fields:
                fields = ["pt"]  # the multiplicity
            self.fields[obj.name] = fields
        for obj in reversed(self.objects):  # a parent has every field its subsets use
            if obj.parent is not None:
                self.fields[obj.parent] = sorted(
                    set(self.fields[obj.parent]) | set(self.fields[obj.name])
                )
        for obj in self.objects:
            read |= {f"{obj.collection}_{f}" for f in self.fields[obj.name]}
        self.BRANCHES = sorted(read)
        # per cut: the names the selection uses after it (cuts, histograms after a later
        # cut, the histograms), what a frame narrowed there must keep
        later = set(self.histogram_names)
        self.needed_after = []
        for cut in reversed(self.cuts):
            self.needed_after.append(set(later))
            later |= cut.expr.names | self.stage_variables.get(cut.name, set())
        self.needed_after.reverse()

    @staticmethod
    def _check_name(name: str, known: set[str], where: Origin, kind: str) -> None:
        location = f"{where.file}:{where.line}"
        if not name.isidentifier() or name.startswith("_"):
            raise AtlasodError(f"{location}: {kind} name '{name}' must be a plain identifier")
        if name in known:
            raise AtlasodError(f"{location}: {kind} name '{name}' is already taken")

    def check_histograms(
        self, variables: list[str], after: list[tuple[str, str, set[str]]] | None = None
    ) -> None:
        """Every histogram must use a known name, and a histogram filled ``after`` a cut
        ((histogram, cut, its variables)) must name a cut (checked at start-up)."""
        positions = yaml_positions(self.config_path.read_text("utf-8"))
        for i, name in enumerate(variables):
            if name not in self.known or name in self.exercises:
                line, _, _ = positions.get(("histograms", i, "variable"), (0, 1, 0))
                raise AtlasodError(
                    f"{self.config_path}:{line}: histogram variable '{name}' is not a variable, "
                    "object field or branch of this analysis"
                )
        cuts = [c.name for c in self.cuts]
        self.stage_variables = {}
        for histogram, cut, used in after or []:
            if cut not in cuts:
                raise AtlasodError(
                    f"{self.config_path}: histogram {histogram}: after: {cut!r} is not one of "
                    f"the cuts {cuts}"
                )
            self.stage_variables.setdefault(cut, set()).update(used)
        self.histogram_names = set(variables)
        self._finalise()

    def exercise_values(self, options: dict[str, Any]) -> dict[str, float]:
        """Values of the exercises: from ``solutions.yaml`` when ``solutions`` is on."""
        if not self.exercises or not options.get("solutions", False):
            return {}
        path = self.config_path.with_name(SOLUTIONS_NAME)
        if not path.is_file():
            raise AtlasodError(
                f"--config solutions=true but {path} does not exist; it holds the values of "
                f"the exercises {sorted(self.exercises)}"
            )
        values = load_yaml(path.read_text("utf-8")) or {}
        missing = sorted(set(self.exercises) - set(values))
        if missing:
            raise AtlasodError(f"{path}: no value for the exercises {missing}")
        return {k: float(values[k]) for k in self.exercises}

    def unset_cuts(self, options: dict[str, Any]) -> list[str]:
        """Names of the cuts that are not applied because an exercise has no value."""
        values = self.exercise_values(options)
        return [c.name for c in self.cuts if any(e not in values for e in c.exercises)]

    def select_events(self, events: Any, options: dict[str, Any]) -> Any:
        """The selection on a batch of events (an awkward array of branches): a
        :class:`atlasod.selection.physics.Selected`.  Expressions are evaluated on flat columns
        (:mod:`atlasod.selection.columns`), each when first needed and only on the events
        that pass the cuts before it (:class:`_Frame`)."""
        import numpy as np

        from atlasod.selection import columns
        from atlasod.selection.physics import Selected

        branches: dict[str, Any] = {}
        shapes: dict[str, columns.Shape | None] = {}  # one per collection
        of_collection = self.release.object_branches()
        for b in self.BRANCHES:  # float32 stays float32 until computed with (in float64)
            collection = of_collection.get(b, b)
            branches[b] = columns.from_awkward(events[b], shapes.get(collection))
            shapes.setdefault(collection, branches[b].shape)
        exercises = self.exercise_values(options)
        values: dict[str, Any] = dict(exercises)
        values.update({k: np.bool_(options.get(k, v)) for k, v in self.switches.items()})
        n = len(events)
        frame = _Frame(self, values, np.arange(n), branches)
        current = np.ones(n, dtype=bool)
        cutflow = {"all": current.copy()}
        stages = {}
        passing = np.ones(n, dtype=bool)  # of the frame's events, those that pass so far
        for i, cut in enumerate(self.cuts):
            if any(e not in exercises for e in cut.exercises):
                cutflow[f"{cut.name} (exercise: not applied)"] = current.copy()
            else:
                passing = passing & _event_mask(cut.expr(frame), len(frame.rows), cut.name)
                current = np.zeros(n, dtype=bool)
                current[frame.rows[passing]] = True
                cutflow[cut.name] = current.copy()
            if cut.name in self.stage_variables:  # histograms filled after this cut
                rows = np.flatnonzero(passing)
                filled = {
                    v: _selected(frame[v], passing, rows) for v in self.stage_variables[cut.name]
                }
                stages[cut.name] = (current.copy(), filled)
            if np.count_nonzero(passing) <= NARROW * len(passing):
                frame = frame.narrowed(passing, self.needed_after[i])
                passing = np.ones(len(frame.rows), dtype=bool)
        rows = np.flatnonzero(passing)
        variables = {name: _selected(frame[name], passing, rows) for name in self.histogram_names}
        return Selected(mask=current, variables=variables, cutflow=cutflow, stages=stages)


# The expressions after a cut are computed on the events that pass it alone once it keeps
# at most this fraction of them (taking the values used later costs less than the rest).
NARROW = 0.7


class _Frame:
    """The names of a declarative selection on some events of a batch (``rows``), each
    computed when first used: a variable from its expression, an object from its condition,
    on these events alone.  A narrower frame (:meth:`narrowed`) starts with what this one
    computed that the rest of the selection can still use, taken onto its events; this one
    can then be freed.  Expressions read a frame as they read a dict (``frame[name]``,
    ``frame.get(MEMO)``).

    The batch's branches are not carried from frame to frame: each frame takes a branch
    from the whole batch's (``branches``, views of what uproot read) when it first uses
    it, so that a branch first used after several narrowing cuts is taken once, onto the
    events that reach it, and not once per narrowing before."""

    def __init__(
        self,
        selection: DeclarativeSelection,
        values: dict[str, Any],
        rows: Any,
        branches: dict[str, Any],
    ) -> None:
        self.selection = selection
        self.values = values
        self.rows = rows  # indices into the batch
        self.branches = branches  # the batch's, on all its events
        self.memo: dict[str, Any] = {}
        self._variables = selection.variable_exprs
        self._objects = selection.object_defs
        self._fields = selection.object_fields
        self._from_batch: Any = None  # an EventSubset of the batch onto ``rows``

    def narrowed(self, keep: Any, needed: set[str]) -> _Frame:
        """The frame of the events ``keep`` (a mask over this frame's events) alone, with
        the values of this frame that ``needed`` (the names the rest of the selection uses)
        need, taken onto them."""
        import numpy as np

        from atlasod.selection.columns import EventSubset

        local = np.flatnonzero(keep)
        subset = EventSubset(local, len(self.rows))
        child = _Frame(self.selection, {}, self.rows[local], self.branches)
        todo, seen = list(needed), set()
        while todo:
            name = todo.pop()
            if name in seen or name in self.branches:  # (a branch: taken when first used)
                continue
            seen.add(name)
            if name in self._fields:  # an object's field: its objects
                todo.append(self._fields[name][0])
            elif name in self.values:
                child.values[name] = subset(self.values[name])
            elif name in self._variables:  # not computed yet: what it is computed from
                todo.extend(self._variables[name].names)
            elif name in self._objects:
                obj = self._objects[name]
                todo.extend(obj.where.names if obj.where is not None else ())
                todo.extend(f"{obj.source}_{f}" for f in self.selection.fields[name])
        return child

    def get(self, name: str, default: Any = None) -> Any:
        if name == MEMO:
            return self.memo
        try:
            return self[name]
        except KeyError:
            return default

    def __getitem__(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name in self.branches:
            value = self._branch(name)
            self.values[name] = value
            return value
        if name in self._fields:  # an object's field: through its objects
            obj, field = self._fields[name]
            return self[obj].fields[field]
        if name in self._variables:
            from atlasod.selection.columns import kept

            value = kept(self._variables[name](self))
        elif name in self._objects:
            value = self._select_objects(self._objects[name])
        else:
            raise KeyError(name)
        self.values[name] = value
        return value

    def _branch(self, name: str) -> Any:
        """A branch on this frame's events, taken from the batch's."""
        values = self.branches[name]
        if len(self.rows) == len(values):  # the whole batch
            return values
        if self._from_batch is None:
            from atlasod.selection.columns import EventSubset

            self._from_batch = EventSubset(self.rows, len(values))
        return self._from_batch(values)

    def _select_objects(self, obj: ObjectDef) -> Any:
        from atlasod.selection.columns import Objects, Selector

        keep = Selector(obj.where(self)) if obj.where is not None else None
        fields = {}
        for f in self.selection.fields[obj.name]:
            values = self[f"{obj.source}_{f}"]
            fields[f] = keep(values) if keep is not None else values
        return Objects(fields)


def _event_mask(value: Any, n: int, name: str) -> Any:
    import numpy as np

    from atlasod.selection.columns import Column

    if isinstance(value, bool | np.bool_):
        return np.full(n, bool(value))
    if isinstance(value, Column):
        if value.jagged:
            raise AtlasodError(
                f"cut '{name}' gives one value per object, not per event: "
                "use any(...), all(...) or count(...)"
            )
        return value.filled(False).astype(bool)
    return np.asarray(value, dtype=bool)


def _selected(value: Any, mask: Any, events: Any) -> Any:
    """The values of the selected events (``mask``, or their indices ``events``): floats
    (NaN where missing) per event, an awkward array of lists per object."""
    import numpy as np

    from atlasod.selection.columns import Column, Selector

    if isinstance(value, Column):
        if value.jagged:
            assert value.shape is not None
            # the selected events' lists (the objects of the other events dropped first)
            return Selector(Column(mask).repeated(value.shape))(value).to_awkward()[events]
        return value.selected_events(events)
    value = np.asarray(value)
    if value.ndim == 0:
        return np.full(len(events), float(value))
    return value[events]
