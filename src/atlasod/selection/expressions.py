"""A small, safe expression language for declarative analyses.

Expressions use Python's syntax but are never evaluated by Python: they are parsed with
:mod:`ast`, checked against a whitelist of node types, names and functions, and compiled
into functions of awkward arrays.  Allowed:

- numbers, ``True``/``False``, ``pi`` and the unit constants ``GeV``, ``MeV``, ``TeV`` in the
  files' energy unit (the release's: 1 GeV is 1000 in MeV files, 1 in GeV files);
- names of branches of the release's tree (``met_et``, ``lep_pt``, ...), of objects and
  variables defined earlier in the same analysis;
- arithmetic ``+ - * / ** %``, comparisons (chained too), ``and``/``or``/``not`` (element-wise),
  ``&``/``|``/``~``, ``x if cond else y``;
- indexing by a whole number, ``goodlep_pt[0]``, or by one per event,
  ``goodlep_pt[sfos_pair_other(goodlep, 91.18*GeV)]``;
- calls of the functions in :data:`FUNCTIONS` with positional arguments.

Everything else (attribute access, imports, lambdas, comprehensions, names starting with an
underscore, keyword arguments, ...) is an :class:`ExpressionError` that names the file, the
line, the column and the offending token.
"""

from __future__ import annotations

import ast
import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from atlasod.data.release import Release, available
from atlasod.errors import AtlasodError

# The largest k of best_system_mass(objects, k): C(n, k) combinations per event of n
# objects.  This module stays free of numpy and awkward (the Snakefile plans with it where
# they are not installed, REANA's client), so the limit is kept here, not in columns.
MAX_SYSTEM_SIZE = 4

# Constants of every release; the units (GeV, MeV, TeV in the files' unit) are the release's.
MATH_CONSTANTS: dict[str, float] = {"pi": math.pi}
# Key of the environment's memo (a dict): with it, every index and function call is
# computed once per batch, however many expressions use it (names cannot start with "_").
MEMO = "_memo"
Env = dict[str, Any]
Compiled = Callable[[Env], Any]


class ExpressionError(AtlasodError):
    """An expression that cannot be accepted, with where it is."""


@dataclass(frozen=True)
class Kind:
    """What an expression gives: one value per event (``objects`` None: a number, a branch
    per event, a count), one value per object of ``objects`` (a collection such as ``lep``,
    or an object such as ``goodlep``: two differently selected sets of objects do not
    combine), or, with ``handle``, the objects themselves (for ``pair_mass``, ...)."""

    objects: str | None = None
    handle: bool = False

    def describe(self) -> str:
        if self.handle:
            return f"the objects {self.objects}"
        return "one value per event" if self.objects is None else "one value per object"


PER_EVENT = Kind()
# Python's integers have no bound, so ``10**10**10`` would compute for ever: an integer power
# whose result could pass MAX_CONSTANT_BITS is computed as a float (and overflows there), and
# an integer constant outside 64 bits becomes a float, as numpy would need it.
MAX_CONSTANT_BITS = 1024
INT64 = 2**63
# Functions of objects' values that give one value per event; functions that take objects.
_REDUCTIONS = {"count", "sum", "any", "all", "max", "min", "argmax", "argmin"}
_OF_OBJECTS = (
    "pair_mass",
    "system_mass",
    "system_pt",
    "system_phi",
    "system_rapidity",
    "best_system_mass",
    "best_system_pair_mass",
    "sfos_pair_mass",
    "sfos_pair_pt",
    "sfos_pair_other",
    "closest_pair_mass",
    "closest_pair_first",
    "closest_pair_second",
)
# functions of values per object and other objects, giving one value per object
_TO_OBJECTS = ("min_delta_r",)
_OBJECT_FUNCTIONS = f"{', '.join(_OF_OBJECTS)} or {_TO_OBJECTS[-1]}"  # for messages
# functions of the k-object combinations of each event: k is a constant from 2 to
# MAX_SYSTEM_SIZE, which bounds their cost (C(n, k) combinations of n objects)
_OF_SYSTEMS = {"best_system_mass", "best_system_pair_mass"}
# functions of the pairs of same flavour and opposite charge: the objects' type and charge
# are read with their four-momenta
_OF_PAIRS = {"sfos_pair_mass", "sfos_pair_pt", "sfos_pair_other"}
# functions of the pair closest to a mass, of any objects
_OF_ANY_PAIRS = {"closest_pair_mass", "closest_pair_first", "closest_pair_second"}


@dataclass(frozen=True)
class Origin:
    """Where an expression comes from, for error messages."""

    file: str
    line: int  # 1-based line of the expression's first character in the file
    column: int = 1  # 1-based column of that character
    source: tuple[str, ...] = ()  # the file's lines holding the expression (multi-line YAML)

    def locate(self, token: str, offset: int) -> tuple[int, int]:
        """(line, column) of ``token``, found at ``offset`` in the expression's text."""
        for i, text in enumerate(self.source):
            start = text.find(token) if token else -1
            if start >= 0:
                return self.line + i, start + 1
        return self.line, self.column + offset


# name -> (function, number of arguments (None: any), description for the docs)
FUNCTIONS: dict[str, tuple[str, int, str]] = {
    "abs": ("absolute", 1, "absolute value"),
    "sqrt": ("sqrt", 1, "square root"),
    "exp": ("exp", 1, "exponential"),
    "log": ("log", 1, "natural logarithm"),
    "cos": ("cos", 1, "cosine"),
    "sin": ("sin", 1, "sine"),
    "cosh": ("cosh", 1, "hyperbolic cosine"),
    "sinh": ("sinh", 1, "hyperbolic sine"),
    "arcsinh": ("arcsinh", 1, "inverse hyperbolic sine (η from p_z / p_T)"),
    "tan": ("tan", 1, "tangent"),
    "minimum": ("minimum", 2, "element-wise minimum of two values"),
    "maximum": ("maximum", 2, "element-wise maximum of two values"),
    "count": ("count", 1, "number of objects per event, e.g. count(goodlep_pt)"),
    "sum": ("event_sum", 1, "sum over the objects of each event"),
    "any": ("event_any", 1, "true if any object of the event is true"),
    "all": ("event_all", 1, "true if every object of the event is true"),
    "max": ("event_max", 1, "largest value among the objects of each event"),
    "min": ("event_min", 1, "smallest value among the objects of each event"),
    "argmax": (
        "argmax",
        1,
        "index (0, 1, ...) among the event's objects of the first one with the largest value: "
        "bjet_pt[argmax(dr_lep_b)]",
    ),
    "argmin": ("argmin", 1, "index of the first object with the smallest value"),
    "mass": (
        "mass",
        8,
        "invariant mass of two objects: mass(pt1, eta1, phi1, E1, pt2, eta2, phi2, E2)",
    ),
    "pair_mass": ("pair_mass", 3, "invariant mass of objects i and j: pair_mass(goodlep, 0, 1)"),
    "system_mass": ("system_mass", 1, "invariant mass of all the objects: system_mass(goodlep)"),
    "system_pt": ("system_pt", 1, "pT of the sum of all the objects: system_pt(goodlep)"),
    "system_phi": ("system_phi", 1, "azimuth φ of the sum of all the objects: system_phi(goodlep)"),
    "system_rapidity": (
        "system_rapidity",
        1,
        "rapidity of the sum of all the objects: system_rapidity(goodlep)",
    ),
    "best_system_mass": (
        "best_system_mass",
        2,
        "invariant mass of the k objects (k = 2 to 4) whose sum has the largest pT: "
        "best_system_mass(goodjet, 3)",
    ),
    "best_system_pair_mass": (
        "best_system_pair_mass",
        2,
        "in that system, the invariant mass of the pair with the largest pT: "
        "best_system_pair_mass(goodjet, 3)",
    ),
    "sfos_pair_mass": (
        "sfos_pair_mass",
        2,
        "invariant mass of the same-flavour, opposite-charge pair whose mass is closest to m "
        "(a Z candidate): sfos_pair_mass(goodlep, 91.18*GeV)",
    ),
    "sfos_pair_pt": ("sfos_pair_pt", 2, "pT of that pair: sfos_pair_pt(goodlep, 91.18*GeV)"),
    "sfos_pair_other": (
        "sfos_pair_other",
        2,
        "index of the first object not in that pair (WZ's W lepton): "
        "goodlep_pt[sfos_pair_other(goodlep, 91.18*GeV)]",
    ),
    "closest_pair_mass": (
        "closest_pair_mass",
        2,
        "invariant mass of the pair of objects whose mass is closest to m (a hadronic W): "
        "closest_pair_mass(lightjet, 80.4*GeV)",
    ),
    "closest_pair_first": (
        "closest_pair_first",
        2,
        "index among the event's objects of that pair's first object: "
        "lightjet_pt[closest_pair_first(lightjet, 80.4*GeV)]",
    ),
    "closest_pair_second": (
        "closest_pair_second",
        2,
        "index of that pair's second object: closest_pair_second(lightjet, 80.4*GeV)",
    ),
    "event_normal": (
        "event_normal",
        3,
        "a standard-normal number per event, a pure function of the event and a whole number "
        "(reproducible smearing): event_normal(runNumber, eventNumber, 1)",
    ),
    "mass3": (
        "mass3",
        12,
        "invariant mass of three objects: mass3(pt1, eta1, phi1, E1, ..., pt3, eta3, phi3, E3)",
    ),
    "min_delta_r": (
        "min_delta_r",
        3,
        "per object, the smallest ΔR to the given objects of the same event (infinite where "
        "there are none): min_delta_r(largeRjet_eta, largeRjet_phi, bjet)",
    ),
    "mt": ("mt", 4, "transverse mass: mt(pt, phi, met_et, met_phi)"),
    "neutrino_pz": (
        "neutrino_pz",
        8,
        "the neutrino's p_z from the W-mass constraint, root +1 or -1 (NaN without a real "
        "solution): neutrino_pz(lep_pt, lep_eta, lep_phi, lep_e, met, met_phi, 80.4*GeV, 1)",
    ),
    "delta_phi": ("delta_phi", 2, "|Δφ| folded into [0, π]"),
    "delta_r": ("delta_r", 4, "ΔR: delta_r(eta1, phi1, eta2, phi2)"),
    "theta": ("theta", 1, "polar angle from η: 2 atan(exp(-η))"),
}


def _impl(name: str) -> Callable[..., Any]:
    """The implementation of a function or helper; numpy and awkward are imported only when
    an expression is evaluated (the Snakefile checks expressions where they are absent)."""
    from atlasod.selection import expression_functions

    return getattr(expression_functions, name)


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
    ast.Mod: lambda a, b: a % b,
    ast.BitAnd: lambda a, b: a & b,
    ast.BitOr: lambda a, b: a | b,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
}
_DESCRIBE = {
    ast.Attribute: "attribute access ('.')",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehension",
    ast.GeneratorExp: "comprehension",
    ast.DictComp: "comprehension",
    ast.SetComp: "comprehension",
    ast.Starred: "'*' unpacking",
    ast.NamedExpr: "assignment (':=')",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.JoinedStr: "f-string",
    ast.Dict: "dict literal",
    ast.List: "list literal",
    ast.Set: "set literal",
    ast.Tuple: "tuple",
    ast.Slice: "slice",
}


@dataclass
class Expression:
    """A checked, compiled expression and the names it reads."""

    text: str
    origin: Origin
    function: Compiled
    names: set[str] = field(default_factory=set)
    kind: Kind | None = None  # None: not inferred (no kinds given for the names)

    def __call__(self, env: Env) -> Any:
        try:
            return self.function(env)
        except ExpressionError:
            raise
        except AtlasodError as exc:  # a value the expression cannot be computed on
            where = f"{self.origin.file}:{self.origin.line}:{self.origin.column}"
            raise ExpressionError(f"{where}: {exc} (in '{self.text}')") from None


def _error(text: str, origin: Origin, node: ast.AST | None, problem: str) -> ExpressionError:
    col = getattr(node, "col_offset", 0) if node is not None else 0
    end = getattr(node, "end_col_offset", None) if node is not None else None
    token = text[col:end] if end is not None else text[col:]
    line, column = origin.locate(token, col)
    where = f"{origin.file}:{line}:{column}"
    return ExpressionError(f"{where}: {problem} (at '{token}' in '{text}')")


def compile_expression(
    text: str,
    known: set[str],
    origin: Origin,
    kinds: dict[str, Kind] | None = None,
    units: dict[str, float] | None = None,
) -> Expression:
    """Check ``text`` against the whitelist and the ``known`` names; compile it.  With the
    ``kinds`` of the names, also infer what it gives (:class:`Kind`) and refuse what could
    only fail when events are processed (a reduction of values per event, values of two
    collections combined object by object, objects where values are needed)."""
    if not isinstance(text, str):
        text = str(text)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        col = (exc.offset or 1) - 1
        where = f"{origin.file}:{origin.line}:{origin.column + col}"
        raise ExpressionError(f"{where}: syntax error in '{text}': {exc.msg}") from None
    names: set[str] = set()
    constants = {**MATH_CONSTANTS, **(units or {})}
    function = _compile(tree.body, text.strip(), known, origin, names, constants)
    kind = None if kinds is None else _kind(tree.body, text.strip(), origin, kinds)
    return Expression(text.strip(), origin, function, names, kind)


def expression_error(expression: Expression, problem: str) -> ExpressionError:
    """An error about the whole of ``expression``, with where it is."""
    where = f"{expression.origin.file}:{expression.origin.line}:{expression.origin.column}"
    return ExpressionError(f"{where}: {problem} (in '{expression.text}')")


def _kind(  # noqa: PLR0911 - one return per node type is the clearest form
    node: ast.AST, text: str, origin: Origin, kinds: dict[str, Kind]
) -> Kind:
    """What ``node`` gives, from the kinds of the names it reads (see :class:`Kind`)."""

    def of(n: ast.AST) -> Kind:
        return _kind(n, text, origin, kinds)

    def values(parts: list[ast.AST]) -> Kind:
        """The kind of an element-wise combination of ``parts``."""
        groups = set()
        for part in parts:
            kind = of(part)
            if kind.handle:
                raise _error(
                    text,
                    origin,
                    part,
                    f"{kind.describe()} can only be given to {_OBJECT_FUNCTIONS}; use their "
                    f"values, e.g. {kind.objects}_pt",
                )
            if kind.objects is not None:
                groups.add(kind.objects)
        if len(groups) > 1:
            raise _error(
                text,
                origin,
                node,
                f"values of different collections (or of differently selected objects: "
                f"{', '.join(sorted(groups))}) cannot be combined object by object",
            )
        return Kind(groups.pop()) if groups else PER_EVENT

    if isinstance(node, ast.Name) and node.id in kinds:
        return kinds[node.id]
    if isinstance(node, ast.Constant | ast.Name):
        return PER_EVENT  # numbers, constants, exercises
    if isinstance(node, ast.Subscript):
        kind = of(node.value)
        if kind.objects is None or kind.handle:
            raise _error(
                text, origin, node, "an index needs values per object (e.g. goodlep_pt[0])"
            )
        if of(node.slice) != PER_EVENT:
            raise _error(
                text,
                origin,
                node.slice,
                "an index must be one value per event (a number, or e.g. "
                "sfos_pair_other(goodlep, 91.18*GeV))",
            )
        return PER_EVENT
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        fname = node.func.id
        if fname in _OF_OBJECTS:
            kind = of(node.args[0])
            if not kind.handle:
                raise _error(text, origin, node, f"{fname}() takes objects (e.g. goodlep) first")
            values(node.args[1:])
            return PER_EVENT
        if fname in _TO_OBJECTS:
            kind = values(node.args[:-1])
            if kind.objects is None:
                raise _error(
                    text, origin, node, f"{fname}() needs values per object (e.g. largeRjet_eta)"
                )
            if not of(node.args[-1]).handle:
                raise _error(text, origin, node, f"{fname}() takes objects (e.g. bjet) last")
            return kind
        if fname in _REDUCTIONS:
            kind = values(node.args)
            if kind.objects is None:
                raise _error(
                    text,
                    origin,
                    node,
                    f"{fname}() needs values per object (e.g. goodlep_pt), not per event",
                )
            return PER_EVENT
        return values(node.args)
    if isinstance(node, ast.BinOp):
        return values([node.left, node.right])
    if isinstance(node, ast.UnaryOp):
        return values([node.operand])
    if isinstance(node, ast.BoolOp):
        return values(node.values)
    if isinstance(node, ast.Compare):
        return values([node.left, *node.comparators])
    if isinstance(node, ast.IfExp):
        return values([node.test, node.body, node.orelse])
    return PER_EVENT  # (every other node is refused by the compiler)


def _is_constant(node: ast.AST, constants: dict[str, float]) -> bool:
    """Whether ``node`` reads no event data: numbers, constants and operations on them."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, bool | int | float)
    if isinstance(node, ast.Name):
        return node.id in constants or node.id in ("True", "False")
    if isinstance(node, ast.BinOp):
        return (
            type(node.op) in _BINOPS
            and _is_constant(node.left, constants)
            and _is_constant(node.right, constants)
        )
    if isinstance(node, ast.UnaryOp):
        return isinstance(node.op, ast.USub | ast.UAdd) and _is_constant(node.operand, constants)
    return False


def _power(base: Any, exponent: Any) -> Any:
    """``base ** exponent`` of two constants, in bounded time: an integer power that would
    pass MAX_CONSTANT_BITS is computed in floating point (and overflows there)."""
    integers = isinstance(base, int) and isinstance(exponent, int)
    if integers and abs(base) > 1 and exponent * abs(base).bit_length() > MAX_CONSTANT_BITS:
        return float(base) ** float(exponent)
    return base**exponent


def _fold(node: ast.AST, text: str, origin: Origin, constants: dict[str, float]) -> Any:
    """The value of a constant ``node`` (see :func:`_is_constant`), computed once, when the
    expression is checked."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return constants.get(node.id, node.id == "True")
    if isinstance(node, ast.UnaryOp):
        value = _fold(node.operand, text, origin, constants)
        return -value if isinstance(node.op, ast.USub) else value
    assert isinstance(node, ast.BinOp)
    left = _fold(node.left, text, origin, constants)
    right = _fold(node.right, text, origin, constants)
    try:
        value = (
            _power(left, right)
            if isinstance(node.op, ast.Pow)
            else _BINOPS[type(node.op)](left, right)
        )
    except OverflowError:
        raise _error(text, origin, node, "this constant is too large to compute") from None
    except ZeroDivisionError:
        raise _error(text, origin, node, "this constant divides by zero") from None
    except (TypeError, ValueError) as exc:
        raise _error(text, origin, node, f"this constant cannot be computed ({exc})") from None
    if isinstance(value, complex) or (isinstance(value, float) and not math.isfinite(value)):
        raise _error(text, origin, node, "this constant is not a finite number")
    return _number(value, text, origin, node)


def _number(value: Any, text: str, origin: Origin, node: ast.AST) -> Any:
    """A constant as the events' arrays can take it: an integer outside 64 bits as a float."""
    if isinstance(value, int) and not isinstance(value, bool) and not -INT64 <= value < INT64:
        try:
            return float(value)
        except OverflowError:
            raise _error(text, origin, node, "this constant is too large to compute") from None
    return value


def _compile(  # noqa: PLR0911 - one return per node type is the clearest form
    node: ast.AST,
    text: str,
    known: set[str],
    origin: Origin,
    names: set[str],
    constants: dict[str, float],
) -> Compiled:
    def sub(n: ast.AST) -> Compiled:
        return _compile(n, text, known, origin, names, constants)

    if isinstance(node, ast.BinOp | ast.UnaryOp) and _is_constant(node, constants):
        folded = _fold(node, text, origin, constants)
        return lambda env: folded
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool | int | float):
            value = _number(node.value, text, origin, node)
            return lambda env: value
        raise _error(text, origin, node, f"constant {node.value!r} is not a number")
    if isinstance(node, ast.Name):
        name = node.id
        if name.startswith("_"):
            raise _error(text, origin, node, f"name '{name}' is not allowed (leading underscore)")
        if name in constants:
            value = constants[name]
            return lambda env: value
        if name in ("True", "False"):
            value = name == "True"
            return lambda env: value
        if name not in known:
            close = difflib.get_close_matches(name, sorted(known | set(constants)), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise _error(text, origin, node, f"unknown name '{name}'{hint}")
        names.add(name)
        return lambda env: env[name]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op, left, right = _BINOPS[type(node.op)], sub(node.left), sub(node.right)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.UnaryOp):
        operand = sub(node.operand)
        if isinstance(node.op, ast.USub):
            return lambda env: -operand(env)
        if isinstance(node.op, ast.UAdd):
            return operand
        if isinstance(node.op, ast.Not | ast.Invert):
            return lambda env: _impl("logical_not")(operand(env))
    if isinstance(node, ast.BoolOp):
        parts = [sub(v) for v in node.values]
        if isinstance(node.op, ast.And):
            return lambda env: _reduce(parts, env, lambda a, b: a & b)
        return lambda env: _reduce(parts, env, lambda a, b: a | b)
    if isinstance(node, ast.Compare):
        first = sub(node.left)
        rest = []
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if type(op) not in _CMPOPS:
                raise _error(text, origin, node, f"comparison '{type(op).__name__}' is not allowed")
            rest.append((_CMPOPS[type(op)], sub(comparator)))

        def compare(env: Env) -> Any:
            left = first(env)
            result = None
            for op_fn, right_fn in rest:
                right = right_fn(env)
                part = op_fn(left, right)
                result = part if result is None else result & part
                left = right
            return result

        return compare
    if isinstance(node, ast.IfExp):
        cond, yes, no = sub(node.test), sub(node.body), sub(node.orelse)
        return lambda env: _impl("where")(cond(env), yes(env), no(env))
    if isinstance(node, ast.Subscript):
        index = node.slice
        if isinstance(index, ast.Slice | ast.Tuple):
            raise _error(text, origin, node, "an index must be a whole number, e.g. x[0]")
        if not _is_constant(index, constants):  # one index per event: a whole number each
            values, per_event = sub(node.value), sub(index)
            return _memoised(node, lambda env: _impl("at_event_index")(values(env), per_event(env)))
        value = _fold(index, text, origin, constants)  # x[0], x[-1], x[2 - 1], x[pi]
        if not isinstance(value, int) or isinstance(value, bool):
            raise _error(text, origin, node, "an index must be a whole number, e.g. x[0]")
        if value < 0:
            raise _error(text, origin, node, "an index must not be negative")
        values, i = sub(node.value), value
        return _memoised(node, lambda env: _impl("at")(values(env), i))
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise _error(text, origin, node, "only the listed functions can be called")
        fname = node.func.id
        if fname.startswith("_"):
            raise _error(
                text, origin, node.func, f"name '{fname}' is not allowed (leading underscore)"
            )
        if fname not in FUNCTIONS:
            close = difflib.get_close_matches(fname, sorted(FUNCTIONS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise _error(text, origin, node.func, f"unknown function '{fname}'{hint}")
        if node.keywords:
            raise _error(text, origin, node, "keyword arguments are not allowed")
        impl_name, arity, _ = FUNCTIONS[fname]
        if len(node.args) != arity:
            raise _error(
                text, origin, node, f"{fname}() takes {arity} argument(s), not {len(node.args)}"
            )
        if fname in _OF_SYSTEMS:
            k = node.args[1]
            if not (
                isinstance(k, ast.Constant)
                and type(k.value) is int
                and 2 <= k.value <= MAX_SYSTEM_SIZE
            ):
                raise _error(
                    text,
                    origin,
                    k,
                    f"{fname}() takes the number of objects as a whole number from 2 to "
                    f"{MAX_SYSTEM_SIZE}",
                )
        if fname in _OF_PAIRS | _OF_ANY_PAIRS and not _is_constant(node.args[1], constants):
            raise _error(
                text,
                origin,
                node.args[1],
                f"{fname}() takes the mass as a number, e.g. 91.18*GeV",
            )
        if fname in _OF_PAIRS and isinstance(node.args[0], ast.Name):
            objects = node.args[0].id
            missing = [f for f in ("type", "charge") if f"{objects}_{f}" not in known]
            if objects in known and missing:
                raise _error(
                    text,
                    origin,
                    node.args[0],
                    f"{fname}() needs objects with a flavour and a charge ({objects} has no "
                    f"{' and no '.join(missing)}): leptons, e.g. goodlep",
                )
            names.update({f"{objects}_type", f"{objects}_charge"} & known)
        args = [sub(a) for a in node.args]
        return _memoised(node, lambda env: _impl(impl_name)(*(a(env) for a in args)))
    what = _DESCRIBE.get(type(node), type(node).__name__)
    raise _error(text, origin, node, f"{what} is not allowed")


def _memoised(node: ast.AST, function: Compiled) -> Compiled:
    """``function``, its value kept in the environment's memo (if it has one) under the
    node's text, so that equal sub-expressions are evaluated once."""
    key = ast.dump(node)

    def run(env: Env) -> Any:
        memo = env.get(MEMO)
        if memo is None:
            return function(env)
        if key not in memo:
            memo[key] = _impl("kept")(function(env))
        return memo[key]

    return run


def _reduce(parts: list[Compiled], env: Env, op: Callable[[Any, Any], Any]) -> Any:
    result = parts[0](env)
    for p in parts[1:]:
        result = op(result, p(env))
    return result


def reference() -> str:
    """The expression reference (Markdown), generated from the code for the docs."""
    lines = [
        "| function | arguments | meaning |",
        "|---|---:|---|",
    ]
    for name, (_, arity, doc) in FUNCTIONS.items():
        lines.append(f"| `{name}` | {arity} | {doc} |")
    releases = [Release.load(name) for name in available()]
    lines += ["", "| constant | " + " | ".join(f"release {r.name}" for r in releases) + " |"]
    lines += ["|---|" + "---:|" * len(releases)]
    for name in releases[0].units:
        lines.append(f"| `{name}` | " + " | ".join(f"{r.units[name]:g}" for r in releases) + " |")
    for name, value in MATH_CONSTANTS.items():
        lines.append(f"| `{name}` | " + " | ".join(f"{value:g}" for _ in releases) + " |")
    return "\n".join(lines) + "\n"
