"""Flat columns: what the declarative selection computes on, instead of awkward arrays.

A :class:`Column` is one numpy array of values (``content``) with, for per-object quantities,
the event boundaries (``offsets``, ``n_events + 1`` of them, starting at 0) and, where some
events have no value (``x[2]`` of an event with two objects, the maximum of no objects),
a validity mask.  numpy's ufuncs and operators work on columns element by element: a
per-event column meeting a per-object one is repeated over each event's objects, the
validity masks are combined.  Every operation is one numpy call over the flat contents, so
an expression costs what numpy costs, without awkward's broadcasting and option types.

The values are those awkward gives, bit for bit: the same ufuncs on the same float64
numbers; sums over objects add in object order, as awkward's reducers do (``np.bincount``
adds sequentially); Lorentz vectors are computed by ``vector`` on numpy arrays with the
formulas it applies to awkward arrays.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import awkward as ak
import numpy as np
import vector
from numpy.lib.mixins import NDArrayOperatorsMixin

from atlasod.errors import AtlasodError
from atlasod.selection.physics import delta_r


class Shape:
    """The event boundaries of per-object columns: ``offsets`` (``n_events + 1``, from 0).
    Columns of the same objects share one shape, which keeps what is derived from it."""

    __slots__ = ("_picks", "counts", "offsets")

    def __init__(self, offsets: np.ndarray) -> None:
        self.offsets = offsets
        self.counts = np.diff(offsets)
        self._picks: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def __len__(self) -> int:
        return len(self.counts)

    def same(self, other: Shape) -> bool:
        return other is self or np.array_equal(other.offsets, self.offsets)

    def pick(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """(has, positions): which events have an object ``index``, and where it is."""
        if index not in self._picks:
            has = self.counts > index
            self._picks[index] = (has, np.where(has, self.offsets[:-1] + index, 0))
        return self._picks[index]

    def segment_ids(self) -> np.ndarray:
        return np.repeat(np.arange(len(self)), self.counts)


class Column(NDArrayOperatorsMixin):
    """Values per event (``shape is None``) or per object, with an optional validity.

    float32 values (as read) stay float32 until an operation uses them: every operation
    computes in double precision (:func:`float64`), as if they had been converted on
    reading, while selecting and picking objects moves half the bytes."""

    __slots__ = ("_content", "_source", "intermediate", "shape", "valid")

    def __init__(
        self,
        content: np.ndarray | None,
        shape: Shape | None = None,
        valid: np.ndarray | None = None,
        source: tuple[np.ndarray, Selector] | None = None,
    ) -> None:
        self._content = content
        self._source = source  # selected objects: (all objects' values, the selector)
        self.shape = shape
        self.valid = valid
        # an operation's result used once, by the next operation, which may write into it
        self.intermediate = False

    @property
    def content(self) -> np.ndarray:
        """The values (of selected objects: taken from all objects' values when first used;
        :func:`at` picks from those directly)."""
        if self._content is None:
            assert self._source is not None
            values, selector = self._source
            self._content = values[selector.keep]
        return self._content

    @property
    def jagged(self) -> bool:
        return self.shape is not None

    def __len__(self) -> int:
        return len(self.content) if self.shape is None else len(self.shape)

    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method != "__call__" or kwargs:
            return NotImplemented
        return broadcast(ufunc, *inputs)

    def repeated(self, shape: Shape) -> Column:
        """This per-event column repeated over the objects of each event."""
        valid = None if self.valid is None else np.repeat(self.valid, shape.counts)
        return Column(np.repeat(self.content, shape.counts), shape, valid)

    def selected_events(self, events: np.ndarray) -> np.ndarray:
        """The per-event values (float64) of the ``events`` (their indices), NaN where there
        is none."""
        values = self.content.take(events).astype(np.float64, copy=False)
        if self.valid is not None:
            values[~self.valid.take(events)] = np.nan
        return values

    def filled(self, value: Any) -> np.ndarray:
        """The values, with ``value`` where there is none."""
        if self.valid is None:
            return self.content
        return np.where(self.valid, self.content, value)

    def to_awkward(self) -> ak.Array:
        content: Any = ak.contents.NumpyArray(self.content)
        if self.valid is not None:
            content = ak.contents.ByteMaskedArray(
                ak.index.Index8(self.valid.view(np.int8)), content, valid_when=True
            )
        if self.shape is not None:
            content = ak.contents.ListOffsetArray(ak.index.Index64(self.shape.offsets), content)
        return ak.Array(content)


class EventSubset:
    """Some events of a batch (``rows``: their indices, increasing) and what any column,
    objects or number of the batch is on them alone.  Every value of the language is
    computed event by event, so a value computed on the subset equals the whole batch's
    value taken on it, bit for bit."""

    __slots__ = ("_renumbered", "_shapes", "n_events", "rows")

    def __init__(self, rows: np.ndarray, n_events: int) -> None:
        self.rows = rows
        self.n_events = n_events  # of the batch the rows index
        # per shape (by identity; the shape is kept so that its id stays its own): the
        # shape on the subset and the flat positions of its objects
        self._shapes: dict[int, tuple[Shape, Shape, np.ndarray]] = {}
        self._renumbered: np.ndarray | None = None

    def renumbered(self) -> np.ndarray:
        """For each event of the batch, its index in the subset (-1: not in it)."""
        if self._renumbered is None:
            self._renumbered = np.full(self.n_events, -1, dtype=np.int64)
            self._renumbered[self.rows] = np.arange(len(self.rows))
        return self._renumbered

    def _shape(self, shape: Shape) -> tuple[Shape, np.ndarray]:
        """The subset's objects: their shape and positions among the batch's objects."""
        if id(shape) not in self._shapes:
            counts = shape.counts[self.rows]
            offsets = np.zeros(len(counts) + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            starts = shape.offsets[:-1][self.rows] - offsets[:-1]
            positions = np.repeat(starts, counts) + np.arange(offsets[-1], dtype=np.int64)
            self._shapes[id(shape)] = (shape, Shape(offsets), positions)
        _, subset, positions = self._shapes[id(shape)]
        return subset, positions

    def __call__(self, value: Any) -> Any:
        if isinstance(value, Column):
            if value.shape is None:
                take = self.rows
                shape = None
            else:
                shape, take = self._shape(value.shape)
            valid = None if value.valid is None else value.valid[take]
            return Column(value.content[take], shape, valid)
        if isinstance(value, Objects):
            objects = Objects({name: self(column) for name, column in value.fields.items()})
            if value.derived:  # what was derived, on the subset (the fields share a shape)
                before = next(iter(value.fields.values())).shape
                after = next(iter(objects.fields.values())).shape
                assert before is not None and after is not None
                for key, derived in value.derived.items():
                    objects.derived[key] = self._derived(key, derived, before, after)
            return objects
        if isinstance(value, np.ndarray) and value.ndim == 1 and len(value) == self.n_events:
            return value[self.rows]
        return value  # a number, the same for every event

    def _derived(self, key: tuple[Any, ...], value: Any, before: Shape, after: Shape) -> Any:
        """What a function derived from objects (:class:`Objects`' ``derived``), on the
        subset: the system of every event, or the best system or pair of the events that
        have one (their event indices and object positions renumbered)."""
        if key[0] == "system":
            return value[self.rows]
        events = value[0]  # increasing
        renumbered = self.renumbered()[events]
        kept = renumbered >= 0
        new_events = renumbered[kept]
        if key[0] == "best_system":
            return new_events, value[1][kept], [m[kept] for m in value[2]]
        if key[0] in ("sfos_pair", "closest_pair"):
            shift = after.offsets[new_events] - before.offsets[events[kept]]
            return new_events, value[1][kept] + shift, value[2][kept] + shift, value[3][kept]
        raise AssertionError(f"no subset of derived {key}")


def float64(values: Any) -> Any:
    """float32 values as float64 (exact); everything else as it is."""
    if isinstance(values, np.ndarray) and values.dtype == np.float32:
        return values.astype(np.float64)
    return values


@dataclass(frozen=True)
class Objects:
    """A collection's selected objects: field name -> per-object column (shared shape), and
    what functions derived from them in this batch (``derived``: the best pair or system,
    which several functions share, computed once)."""

    fields: dict[str, Column]
    derived: dict[tuple[Any, ...], Any] = field(default_factory=dict, repr=False, compare=False)

    def __getattr__(self, name: str) -> Column:
        try:
            return self.fields[name]
        except KeyError:
            raise AttributeError(name) from None


def from_awkward(values: ak.Array, shape: Shape | None = None) -> Column:
    """A column of a branch read by uproot (flat, or a list per event), in its stored type.
    Lists take ``shape`` when their offsets are its offsets (branches of one collection)."""
    layout = ak.to_layout(values)
    if isinstance(layout, ak.contents.NumpyArray):
        return Column(np.asarray(layout.data))
    if isinstance(layout, ak.contents.ListArray | ak.contents.ListOffsetArray):
        if not (
            isinstance(layout, ak.contents.ListOffsetArray)
            and layout.offsets.data.dtype == np.int64
            and layout.offsets[0] == 0
        ):
            layout = layout.to_ListOffsetArray64(True)  # offsets start at 0
        offsets = np.asarray(layout.offsets.data)
        inner = layout.content
        if isinstance(inner, ak.contents.NumpyArray):
            if shape is None or not np.array_equal(shape.offsets, offsets):
                shape = Shape(offsets)
            return Column(np.asarray(inner.data)[: offsets[-1]], shape)
    raise AtlasodError(f"unsupported branch layout {layout.form.type}")


def _shape_of(inputs: tuple[Any, ...]) -> Shape | None:
    shape = None
    for x in inputs:
        if isinstance(x, Column) and x.shape is not None:
            if shape is None:
                shape = x.shape
            elif not x.shape.same(shape):
                raise AtlasodError(
                    "values of different collections (or of differently selected objects) "
                    "cannot be combined object by object"
                )
    return shape


def aligned(*inputs: Any) -> tuple[list[Any], Shape | None, np.ndarray | None]:
    """The inputs' contents on one shape (per object if any input is), in double precision,
    their common shape and the combined validity (None: all valid)."""
    shape = _shape_of(inputs)
    contents: list[Any] = []
    valid = None
    for x in inputs:
        if isinstance(x, Column):
            if shape is not None and x.shape is None:
                x = x.repeated(shape)
            contents.append(float64(x.content))
            if x.valid is not None:
                valid = x.valid if valid is None else valid & x.valid
        else:
            contents.append(x)
    return contents, shape, valid


# ufuncs whose result is float64 when their array inputs are float64 (and numbers)
_FLOAT_UFUNCS = frozenset(
    (
        *(np.add, np.subtract, np.multiply, np.true_divide, np.power, np.remainder),
        *(np.negative, np.absolute, np.sqrt, np.exp, np.log, np.cos, np.sin, np.cosh),
        *(np.sinh, np.arcsinh, np.tan, np.arctan, np.minimum, np.maximum),
    )
)


def _reusable(function: Any, inputs: tuple[Any, ...], contents: list[Any]) -> np.ndarray | None:
    """An intermediate float64 input the result can be written into (same values as a new
    array: the same loop runs), so that a chain of operations does not allocate each step."""
    if function not in _FLOAT_UFUNCS:
        return None
    arrays = [c for c in contents if isinstance(c, np.ndarray)]
    if not all(a.dtype == np.float64 for a in arrays):
        return None
    for x, content in zip(inputs, contents, strict=True):
        if isinstance(x, Column) and x.intermediate and x._content is content:
            return content
    return None


def broadcast(function: Callable[..., Any], *inputs: Any) -> Column:
    """``function`` applied element by element to columns and numbers."""
    contents, shape, valid = aligned(*inputs)
    out = _reusable(function, inputs, contents)
    with np.errstate(all="ignore"):  # awkward computes only valid entries; so no warnings
        result = function(*contents) if out is None else function(*contents, out=out)
    column = Column(np.asarray(result), shape, valid)
    column.intermediate = True
    return column


def kept(value: Any) -> Any:
    """``value``, marked as kept (a variable or a remembered result): no operation writes
    into it."""
    if isinstance(value, Column):
        value.intermediate = False
    return value


def where(cond: Any, yes: Any, no: Any) -> Any:
    """``yes`` where ``cond``, else ``no``: missing where ``cond`` is, or the value taken
    is (a missing value of the branch not taken does not count: ``x[i] if n > i else 0``)."""
    if not any(isinstance(x, Column) for x in (cond, yes, no)):
        return np.where(cond, yes, no)
    result = broadcast(np.where, cond, yes, no)
    if result.valid is None:
        return result
    contents, shape, _ = aligned(cond, yes, no)

    def validity(x: Any) -> Any:
        if not isinstance(x, Column) or x.valid is None:
            return True
        return (x.repeated(shape) if shape is not None and x.shape is None else x).valid

    taken = np.where(np.asarray(contents[0]).astype(bool), validity(yes), validity(no))
    valid = np.asarray(validity(cond) & taken, dtype=bool)
    result.valid = None if valid.all() else np.broadcast_to(valid, result.content.shape).copy()
    return result


def logical_not(x: Any) -> Any:
    return ~np.bool_(x) if isinstance(x, bool) else ~x


def _jagged(x: Any, what: str) -> tuple[Column, Shape]:
    if not isinstance(x, Column) or x.shape is None:
        raise AtlasodError(f"{what}() needs values per object (e.g. goodlep_pt), not per event")
    return x, x.shape


def count(x: Any) -> Column:
    return Column(_jagged(x, "count")[1].counts)


def event_sum(x: Any) -> Column:
    """Sum over the objects of each event, in object order (as awkward's reducer)."""
    x, shape = _jagged(x, "sum")
    values = x.filled(0)
    sums = np.bincount(shape.segment_ids(), weights=values, minlength=len(shape))
    kind = values.dtype.kind
    if kind in "biu":
        sums = sums.astype(np.uint64 if kind == "u" else np.int64)
    return Column(sums)


def event_any(x: Any) -> Column:
    x, shape = _jagged(x, "any")
    true = np.bincount(shape.segment_ids(), weights=x.filled(False), minlength=len(shape))
    return Column(true > 0)


def event_all(x: Any) -> Column:
    x, shape = _jagged(x, "all")
    true = np.bincount(shape.segment_ids(), weights=x.filled(True), minlength=len(shape))
    return Column(true == shape.counts)


def _extremum(x: Any, ufunc: np.ufunc, what: str) -> Column:
    x, shape = _jagged(x, what)
    if x.valid is not None:
        raise AtlasodError(f"{what}() of values that are missing for some objects")
    filled = shape.counts > 0
    values = np.zeros(len(shape), dtype=x.content.dtype)
    if filled.any():
        values[filled] = ufunc.reduceat(x.content, shape.offsets[:-1][filled])
    return Column(values, None, filled)


def event_max(x: Any) -> Column:
    return _extremum(x, np.maximum, "max")


def event_min(x: Any) -> Column:
    return _extremum(x, np.minimum, "min")


def _index_of_extremum(x: Any, sign: float, what: str) -> Column:
    """Per event, the index (0, 1, ...) among its objects of the first object whose value
    is the largest (``sign`` 1) or the smallest (-1); missing for an event without objects
    or whose extremum is NaN."""
    x, shape = _jagged(x, what)
    if x.valid is not None:
        raise AtlasodError(f"{what}() of values that are missing for some objects")
    events = shape.segment_ids()
    if len(events) == 0:
        return _per_event(np.zeros(0), events, len(shape))
    first = _first_maximum(events, sign * float64(x.content))
    chosen = events[first]
    return _per_event((first - shape.offsets[chosen]).astype(np.float64), chosen, len(shape))


def argmax(x: Any) -> Column:
    return _index_of_extremum(x, 1.0, "argmax")


def argmin(x: Any) -> Column:
    return _index_of_extremum(x, -1.0, "argmin")


def at(x: Any, index: int) -> Column:
    """``x[:, index]``: the index-th object's value, missing where there are fewer."""
    x, shape = _jagged(x, "an index")
    has, positions = shape.pick(index)
    valid = has if x.valid is None else has & x.valid[positions]
    if x._content is None and x._source is not None:  # selected objects: pick from all
        values, selector = x._source
        positions = selector.positions(index)
    else:
        values = x.content
    if len(values) == 0:
        return Column(np.zeros(len(shape), dtype=float64(values).dtype), None, has)
    return Column(float64(values[positions]), None, valid)


class Selector:
    """Selects the objects where a per-object ``mask`` is true, from any column of the same
    objects (the new shape is computed once)."""

    def __init__(self, mask: Column) -> None:
        if mask.shape is None:
            raise AtlasodError("an object condition must give one value per object")
        self.shape = mask.shape
        self.keep = mask.filled(False).astype(bool, copy=False)
        kept = np.empty(len(self.keep) + 1, dtype=np.int64)
        kept[0] = 0
        np.cumsum(self.keep, out=kept[1:])
        self.selected = Shape(kept[mask.shape.offsets])
        self._where: np.ndarray | None = None
        self._positions: dict[int, np.ndarray] = {}

    def positions(self, index: int) -> np.ndarray:
        """Positions among all objects of each event's ``index``-th selected object (0
        where there is none); computed once for all the fields picked."""
        if index not in self._positions:
            if self._where is None:
                self._where = np.flatnonzero(self.keep)
            selected = self.selected.pick(index)[1]
            self._positions[index] = self._where[selected] if len(self._where) else selected
        return self._positions[index]

    def __call__(self, x: Column) -> Column:
        if x.shape is None or not x.shape.same(self.shape):
            raise AtlasodError("an object condition selects from values of its own collection")
        if x.valid is None:  # taken when used; `at` picks from x directly
            return Column(None, self.selected, None, source=(x.content, self))
        return Column(x.content[self.keep], self.selected, x.valid[self.keep])


def _momenta(pt: Any, eta: Any, phi: Any, energy: Any) -> Any:
    return vector.array({"pt": pt, "eta": eta, "phi": phi, "energy": energy})


def _cartesian_momenta(objects: Objects) -> tuple[np.ndarray, ...]:
    """The objects' four-momenta as Cartesian components (px, py, pz, E), converted by vector
    once per object: sums over combinations of objects are then plain additions of taken
    components, where sums in (pT, η, φ, E) would convert every member of every
    combination."""
    fields = [float64(objects.fields[f].content) for f in _four_momentum_fields(objects)]
    p = _momenta(*fields).to_xyzt()
    return tuple(np.asarray(getattr(p, c)) for c in ("x", "y", "z", "t"))


def _cartesian_sum(*members: tuple[np.ndarray, ...]) -> tuple[np.ndarray, ...]:
    return tuple(sum(components[1:], components[0]) for components in zip(*members, strict=True))


def _four(components: tuple[np.ndarray, ...]) -> Any:
    """vector's four-momenta of Cartesian components."""
    return vector.array(dict(zip(("px", "py", "pz", "E"), components, strict=True)))


def _mass_of(*v: np.ndarray) -> np.ndarray:
    """Invariant mass of the sum of the objects given as (pT, η, φ, E) after one another,
    from the sum of their Cartesian components (px = pT cos φ, py = pT sin φ, pz = pT sinh η),
    negative where m² is (vector's convention, ``copysign(sqrt(|m²|), m²)``).  In plain
    numpy: adding with vector in (pT, η, φ, E) converts the sum back to those coordinates
    before its mass, six times the work for the same value to 2e-13 (benchmarks/README.md)."""
    sums: list[Any] = []
    for i in range(0, len(v), 4):
        pt, eta, phi, e = (float64(x) for x in v[i : i + 4])
        components = (pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e)
        sums = (
            list(components) if not sums else [a + b for a, b in zip(sums, components, strict=True)]
        )
    px, py, pz, energy = sums
    m2 = energy * energy - (px * px + py * py + pz * pz)
    return np.copysign(np.sqrt(np.abs(m2)), m2)


def mass(pt1: Any, eta1: Any, phi1: Any, e1: Any, pt2: Any, eta2: Any, phi2: Any, e2: Any) -> Any:
    return broadcast(_mass_of, pt1, eta1, phi1, e1, pt2, eta2, phi2, e2)


def mass3(*momenta: Any) -> Any:
    """Invariant mass of three objects, each given as (pT, η, φ, E)."""
    return broadcast(_mass_of, *momenta)


def _four_momentum_fields(objects: Objects) -> tuple[str, str, str, str]:
    """The fields of a collection's four-momentum: pt, eta, phi and the energy (``E`` in the
    2020 files, ``e`` in the 2025e ones)."""
    energy = "E" if "E" in objects.fields else "e"
    return ("pt", "eta", "phi", energy)


def pair_mass(objects: Objects, i: Any, j: Any) -> Column:
    i, j = int(i), int(j)
    first = [at(objects.fields[f], i) for f in _four_momentum_fields(objects)]
    second = [at(objects.fields[f], j) for f in _four_momentum_fields(objects)]
    return mass(*first, *second)


def _system(objects: Objects) -> Any:
    """The sum of each event's objects' four-momenta, computed once per batch and objects."""
    if ("system",) not in objects.derived:
        objects.derived[("system",)] = _system_of(objects)
    return objects.derived[("system",)]


def _system_of(objects: Objects) -> Any:
    fields = objects.fields
    p = _momenta(*(float64(fields[f].content) for f in _four_momentum_fields(objects)))
    shape = fields["pt"].shape
    assert shape is not None
    ids, n = shape.segment_ids(), len(shape)
    sums = {
        name: np.bincount(ids, weights=np.asarray(getattr(p, name)), minlength=n)
        for name in ("px", "py", "pz", "E")
    }
    return vector.array(sums)


def system_mass(objects: Objects) -> Column:
    return Column(np.asarray(_system(objects).mass))


def system_pt(objects: Objects) -> Column:
    return Column(np.asarray(_system(objects).pt))


def system_phi(objects: Objects) -> Column:
    """Azimuth of the sum of all the objects (0 for an event without any)."""
    return Column(np.asarray(_system(objects).phi))


def system_rapidity(objects: Objects) -> Column:
    """Rapidity of the sum of all the objects (0 for an event without any)."""
    p = _system(objects)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.asarray(p.rapidity)
    return Column(np.where(np.asarray(p.E) > 0, y, 0.0))


def _combinations(shape: Shape, k: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """Every k-combination of each event's objects (positions i < j < ... in object order):
    the event of each combination, events in order and an event's combinations in
    itertools' order, and the k flat positions of its objects."""
    counts = shape.counts
    events_of: list[np.ndarray] = []
    members: list[list[np.ndarray]] = [[] for _ in range(k)]
    for n in np.unique(counts[counts >= k]):
        events = np.flatnonzero(counts == n)
        combos = np.array(list(itertools.combinations(range(int(n)), k)), dtype=np.int64)
        starts = shape.offsets[:-1][events]
        events_of.append(np.repeat(events, len(combos)))
        for j in range(k):
            members[j].append((starts[:, None] + combos[None, :, j]).ravel())
    if not events_of:
        empty = np.zeros(0, dtype=np.int64)
        return empty, [empty] * k
    event = np.concatenate(events_of)
    order = np.argsort(event, kind="stable")
    return event[order], [np.concatenate(m)[order] for m in members]


def _first_maximum(event: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per event that has combinations, the index (into ``values``) of its first largest
    value; ``event`` is sorted."""
    starts = np.flatnonzero(np.r_[True, event[1:] != event[:-1]])
    largest = np.maximum.reduceat(values, starts)
    counts = np.diff(np.r_[starts, len(values)])
    is_max = values == np.repeat(largest, counts)
    first = np.flatnonzero(is_max)
    _, pick = np.unique(event[first], return_index=True)
    return first[pick]


def _best_system(objects: Objects, k: Any) -> tuple[np.ndarray, np.ndarray, list[Any]]:
    """The k objects whose vector sum has the largest pT, per event (the first such
    combination in object order): the events that have one, the sum's four-momenta and
    the k members' four-momenta (vector numpy arrays)."""
    k = int(k)  # 2 to expressions.MAX_SYSTEM_SIZE: checked when the expression is compiled
    key = ("best_system", k)
    if key not in objects.derived:
        objects.derived[key] = _best_system_of(objects, k)
    return objects.derived[key]


def _best_system_of(objects: Objects, k: int) -> tuple[np.ndarray, Any, list[Any]]:
    """Events of each multiplicity n >= k together: their C(n, k) combinations as the
    columns of one table per component, the best one per row by ``argmax`` (the first
    largest, in itertools' order); no sorting of combinations by event."""
    momenta = _cartesian_momenta(objects)
    shape = objects.fields["pt"].shape
    assert shape is not None
    counts = shape.counts
    parts: list[tuple[np.ndarray, tuple[np.ndarray, ...], list[tuple[np.ndarray, ...]]]] = []
    for n in np.unique(counts[counts >= k]):
        events = np.flatnonzero(counts == n)
        combos = np.array(list(itertools.combinations(range(int(n)), k)), dtype=np.int64)
        starts = shape.offsets[:-1][events]
        at = [starts[:, None] + combos[None, :, j] for j in range(k)]  # flat positions
        members = [tuple(c[p] for c in momenta) for p in at]
        total = _cartesian_sum(*members)  # (events, combinations) per component
        rows = np.arange(len(events))
        best = np.argmax(np.hypot(total[0], total[1]), axis=1)
        parts.append(
            (
                events,
                tuple(c[rows, best] for c in total),
                [tuple(c[rows, best] for c in m) for m in members],
            )
        )
    if not parts:
        empty = np.zeros(0)
        nothing = (empty,) * 4
        return np.zeros(0, dtype=np.int64), _four(nothing), [_four(nothing)] * k
    event = np.concatenate([events for events, _, _ in parts])
    order = np.argsort(event, kind="stable")  # one per event: the events in order

    def joined(pieces: list[tuple[np.ndarray, ...]]) -> Any:
        return _four(tuple(np.concatenate(c)[order] for c in zip(*pieces, strict=True)))

    return (
        event[order],
        joined([total for _, total, _ in parts]),
        [joined([m[j] for _, _, m in parts]) for j in range(k)],
    )


def _per_event(values: np.ndarray, events: np.ndarray, n_events: int) -> Column:
    out = np.zeros(n_events, dtype=np.float64)
    out[events] = values
    valid = np.zeros(n_events, dtype=bool)
    valid[events] = True
    return Column(out, None, valid)


def best_system_mass(objects: Objects, k: Any) -> Column:
    """Invariant mass of the k objects whose vector sum has the largest pT (tt̄'s hadronic
    top: best_system_mass(goodjet, 3)); missing in events with fewer than k objects."""
    events, total, _ = _best_system(objects, k)
    return _per_event(np.asarray(total.mass), events, len(objects.fields["pt"]))


def best_system_pair_mass(objects: Objects, k: Any) -> Column:
    """Inside the system of :func:`best_system_mass`, the invariant mass of the pair of
    objects with the largest pT (the first such pair in object order; tt̄'s hadronic W)."""
    events, _, members = _best_system(objects, k)
    n_events = len(objects.fields["pt"])
    if len(events) == 0:
        return _per_event(np.zeros(0), events, n_events)
    pairs = [members[i] + members[j] for i, j in itertools.combinations(range(len(members)), 2)]
    pair_pt = np.stack([np.asarray(p.pt) for p in pairs], axis=1)
    pair_mass = np.stack([np.asarray(p.mass) for p in pairs], axis=1)
    choice = np.argmax(pair_pt, axis=1)
    return _per_event(pair_mass[np.arange(len(choice)), choice], events, n_events)


def _closest_pair(
    objects: Objects, target: Any, sfos: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    """Per event, the pair of objects (of the same flavour and opposite charge if ``sfos``)
    whose invariant mass is closest to ``target`` (the first such pair, pairs i < j in
    object order): the events that have one, the two objects' flat positions and the
    pair's four-momenta (a vector numpy array)."""
    key = ("sfos_pair" if sfos else "closest_pair", float(target))
    if key not in objects.derived:
        objects.derived[key] = _closest_pair_of(objects, float(target), sfos)
    return objects.derived[key]


def _closest_pair_of(
    objects: Objects, target: float, sfos: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Any]:
    shape = objects.fields["pt"].shape
    assert shape is not None
    event, (a, b) = _combinations(shape, 2)
    if sfos:
        flavour, charge = objects.fields["type"].content, objects.fields["charge"].content
        ok = (flavour[a] == flavour[b]) & (float64(charge[a]) * float64(charge[b]) < 0)
        event, a, b = event[ok], a[ok], b[ok]
    # (in (pT, η, φ, E): a pair per two objects converts no more than converting each object
    # once would, and holds less memory)
    fields = [float64(objects.fields[f].content) for f in _four_momentum_fields(objects)]
    pair = _momenta(*(f[a] for f in fields)) + _momenta(*(f[b] for f in fields))
    if len(event) == 0:
        return event, a, b, pair
    best = _first_maximum(event, -np.abs(np.asarray(pair.mass) - float(target)))
    return event[best], a[best], b[best], pair[best]


def sfos_pair_mass(objects: Objects, target: Any) -> Column:
    """Invariant mass of the same-flavour, opposite-charge pair closest to ``target`` (a Z
    candidate: sfos_pair_mass(goodlep, 91.18*GeV)); missing in events without such a pair."""
    events, _, _, pair = _closest_pair(objects, target, sfos=True)
    return _per_event(np.asarray(pair.mass), events, len(objects.fields["pt"]))


def sfos_pair_pt(objects: Objects, target: Any) -> Column:
    """pT of the vector sum of that pair; missing in events without one."""
    events, _, _, pair = _closest_pair(objects, target, sfos=True)
    return _per_event(np.asarray(pair.pt), events, len(objects.fields["pt"]))


def sfos_pair_other(objects: Objects, target: Any) -> Column:
    """The index (0, 1, ...) among the event's objects of the first object not in that pair
    (WZ's W lepton: goodlep_pt[sfos_pair_other(goodlep, 91.18*GeV)]); missing in events
    without a pair or without a third object."""
    events, a, b, _ = _closest_pair(objects, target, sfos=True)
    shape = objects.fields["pt"].shape
    assert shape is not None
    n_events = len(shape)
    i, j = a - shape.offsets[events], b - shape.offsets[events]  # i < j, positions in event
    other = np.where(i > 0, 0, np.where(j > 1, 1, 2))  # the first index that is neither
    has = other < shape.counts[events]
    return _per_event(other[has].astype(np.float64), events[has], n_events)


def closest_pair_mass(objects: Objects, target: Any) -> Column:
    """Invariant mass of the pair of objects whose mass is closest to ``target`` (the
    hadronic W of tt̄: closest_pair_mass(lightjet, 80.4*GeV)); missing in events with fewer
    than two objects."""
    events, _, _, pair = _closest_pair(objects, target)
    return _per_event(np.asarray(pair.mass), events, len(objects.fields["pt"]))


def _closest_pair_member(objects: Objects, target: Any, member: int) -> Column:
    events, a, b, _ = _closest_pair(objects, target)
    shape = objects.fields["pt"].shape
    assert shape is not None
    position = (a, b)[member] - shape.offsets[events]
    return _per_event(position.astype(np.float64), events, len(shape))


def closest_pair_first(objects: Objects, target: Any) -> Column:
    """The index (0, 1, ...) among the event's objects of the first object of that pair
    (lightjet_pt[closest_pair_first(lightjet, 80.4*GeV)])."""
    return _closest_pair_member(objects, target, 0)


def closest_pair_second(objects: Objects, target: Any) -> Column:
    """The index among the event's objects of the second object of that pair."""
    return _closest_pair_member(objects, target, 1)


def min_delta_r(eta: Any, phi: Any, objects: Objects) -> Column:
    """Per object (``eta``, ``phi``: one value per object), the smallest ΔR to any of
    ``objects`` in the same event; infinite where the event has none of them (Z′'s b-jet
    inside a large-R jet: min_delta_r(largeRjet_eta, largeRjet_phi, bjet) < 1.0)."""
    (eta_a, phi_a), shape_a, valid = aligned(eta, phi)
    if shape_a is None:
        raise AtlasodError("min_delta_r() needs values per object (e.g. largeRjet_eta)")
    shape_b = objects.fields["eta"].shape
    assert shape_b is not None
    eta_b, phi_b = (float64(objects.fields[f].content) for f in ("eta", "phi"))
    # every (object, other object) pair of each event, objects in order, others in order
    per_object = shape_b.counts[shape_a.segment_ids()]  # the others in each object's event
    n_pairs = int(per_object.sum())
    out = np.full(len(eta_a), np.inf)
    if n_pairs:
        has = per_object > 0
        starts = np.zeros(len(per_object), dtype=np.int64)
        np.cumsum(per_object[:-1], out=starts[1:])
        obj = np.repeat(np.arange(len(eta_a)), per_object)
        other = (
            np.arange(n_pairs)
            - np.repeat(starts, per_object)
            + np.repeat(shape_b.offsets[:-1][shape_a.segment_ids()], per_object)
        )
        dr = delta_r(eta_a[obj], phi_a[obj], eta_b[other], phi_b[other])
        out[has] = np.minimum.reduceat(dr, starts[has])
    return Column(out, shape_a, valid)


def at_event_index(x: Any, index: Column) -> Column:
    """``x[index]`` with one index per event (a whole number, as
    :func:`sfos_pair_other` gives): the value of that object, missing where the index is
    missing, not a whole number or past the event's objects."""
    x, shape = _jagged(x, "an index")
    if index.shape is not None:
        raise AtlasodError("an index must be one value per event (e.g. goodlep_pt[0])")
    values = float64(index.content)
    whole = np.isfinite(values) & (values == np.floor(values)) & (values >= 0)
    idx = np.where(whole, values, 0).astype(np.int64)
    has = whole & (idx < shape.counts)
    if index.valid is not None:
        has &= index.valid
    positions = np.where(has, shape.offsets[:-1] + idx, 0)
    valid = has if x.valid is None else has & x.valid[positions]
    content = x.content
    if len(content) == 0:
        return Column(np.zeros(len(shape), dtype=float64(content).dtype), None, has)
    return Column(float64(content[positions]), None, valid)
