"""A small, safe expression language for derived training columns (``derive NAME=EXPR``).

An expression is parsed with :func:`ast.parse` (mode ``eval``) and checked against a
whitelist of node types *before* anything is evaluated; it is then evaluated by walking
the tree here, over whole columns (numpy arrays ``[n_rows]``). Nothing is ever passed
to :func:`eval`, so an expression cannot call, import or reach attributes of anything.

Grammar (Python syntax, a strict subset):

* column names as identifiers (``tenure``), or in backticks when they hold spaces or
  symbols (```Individuals Affected```, as in :meth:`pandas.DataFrame.eval`); names of
  columns derived earlier may be used too;
* numbers, strings (``"Hacking/IT Incident"``), ``True``/``False``;
* arithmetic ``+ - * / // % **``, unary ``-``/``+``;
* comparisons ``== != < <= > >=`` (chains allowed) and ``in`` / ``not in`` a list of
  constants (``type in ["Hacking/IT Incident", "Theft"]``); labels compare as text
  (stripped), numbers as numbers;
* ``and``, ``or``, ``not`` (element-wise);
* the functions in :data:`FUNCTIONS`: ``log10``, ``log1p``, ``log``, ``exp``, ``sqrt``,
  ``abs``, ``clip(x, lo, hi)``, ``where(cond, a, b)``, ``minimum(a, b)``,
  ``maximum(a, b)``.

Values are numbers (float64, NaN where missing) or labels (text); a comparison or a
logical operator gives 1.0/0.0. A row with a missing cell in any column used by the
expression is missing in the result. A label column that is mostly numbers
(:attr:`Column.numbers` given) is read as numbers where an operator needs numbers; its
cells that are not numbers are then missing in the result and listed in
:attr:`Column.coerced` for the caller to report. An expression without columns (``5``,
``exp(1)``) is a constant, broadcast to every row. Errors are
:class:`~stratsim.engine.errors.DataError` naming the expression and what was not allowed.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from .errors import DataError
from .terms import term


@dataclass(frozen=True)
class Column:
    """A column as the evaluator sees it.

    Attributes:
        values: ``[n]`` float64 (numbers, NaN where missing) or object array of ``str``.
        missing: ``[n]`` bool, True where the cell is missing.
        numeric: True when ``values`` holds numbers.
        numbers: ``[n]`` float64 for a label column whose cells are mostly numbers: the
            cells that read as numbers, NaN elsewhere; used where an operator needs
            numbers. None otherwise.
        coerced: in a result of :func:`evaluate`, the label columns read as numbers (the
            rows where their cell is not a number are missing in the result).
    """

    values: np.ndarray
    missing: np.ndarray
    numeric: bool
    numbers: np.ndarray | None = None
    coerced: tuple[str, ...] = ()


def _clip(x, lo, hi):
    return np.clip(x, lo, hi)


def _where(cond, a, b):
    return np.where(cond != 0, a, b)


#: Functions an expression may call: name -> (numpy function, number of arguments).
FUNCTIONS: dict[str, tuple[Callable, int]] = {
    "log10": (np.log10, 1),
    "log1p": (np.log1p, 1),
    "log": (np.log, 1),
    "exp": (np.exp, 1),
    "sqrt": (np.sqrt, 1),
    "abs": (np.abs, 1),
    "clip": (_clip, 3),
    "where": (_where, 3),
    "minimum": (np.minimum, 2),
    "maximum": (np.maximum, 2),
}

_BINOPS = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
    ast.FloorDiv: np.floor_divide,
    ast.Mod: np.mod,
    ast.Pow: np.power,
}
_CMPOPS = {
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
}
#: The operator of each binary node, as written (for messages).
_SYMBOLS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
    ast.Mod: "%", ast.Pow: "**",
}  # fmt: skip
_BACKTICK = re.compile(r"`([^`]+)`")
#: Longest expression accepted (characters); also bounds the parser's recursion.
MAX_LENGTH = 1000


@dataclass(frozen=True)
class Expression:
    """A parsed, whitelisted expression; :meth:`names` are the columns it reads."""

    text: str
    tree: ast.Expression
    aliases: dict[str, str]

    def names(self) -> tuple[str, ...]:
        """Column names the expression reads, in first-use order."""
        seen: dict[str, None] = {}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name) and node.id not in FUNCTIONS:
                seen[self.aliases.get(node.id, node.id)] = None
        return tuple(seen)


def subject(where: str, text: str) -> str:
    """How a message names an expression: ``derive x='log10(y)'`` for a setting given
    directly (``where`` starting with the name of :func:`~stratsim.engine.terms.term`
    ``derive``: the CLI's ``--derive x='log10(y)'``), ``recipe.toml: derive x = 'log10(y)'``
    otherwise."""
    return f"{where}={text!r}" if where.startswith(term("derive")) else f"{where} = {text!r}"


def parse_expression(text: str, where: str | None = None) -> Expression:
    """Parse ``text`` and refuse anything outside the grammar in the module docstring.

    Args:
        text: the expression.
        where: what it is, for messages: ``derive NAME`` or ``FILE: derive NAME``
            (:func:`subject`); None: the name of the ``derive`` setting.

    Raises:
        DataError: ``"{where}={text!r}: ..."`` naming the construct that is not allowed.
    """
    where = where or term("derive")
    aliases: dict[str, str] = {}

    def alias(m: re.Match) -> str:
        name = f"__col{len(aliases)}__"
        aliases[name] = m.group(1)
        return name

    if len(text) > MAX_LENGTH:
        raise DataError(f"{subject(where, text[:40])}...: longer than {MAX_LENGTH} characters")
    src = _BACKTICK.sub(alias, text)
    try:
        tree = ast.parse(src.strip(), mode="eval")
    except SyntaxError as exc:
        raise DataError(f"{subject(where, text)}: not a valid expression ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError):  # pathological nesting, NUL bytes
        raise DataError(
            f"{subject(where, text)}: not a valid expression (nested too deeply)"
        ) from None
    depth = _depth(tree)
    if depth > 100:
        raise DataError(f"{subject(where, text)}: nested {depth} levels deep, more than 100")
    for node in ast.walk(tree):
        _check_node(node, text, where)
    return Expression(text, tree, aliases)


def _depth(tree: ast.AST) -> int:
    """Nesting depth of ``tree`` (iterative: no recursion limit to hit)."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _check_node(node: ast.AST, text: str, where: str) -> None:
    def refuse(what: str) -> DataError:
        return DataError(
            f"{subject(where, text)}: {what} is not allowed; expressions may use columns, numbers, "
            f"strings, + - * / // % **, comparisons, and/or/not, in [...] and the functions "
            f"{', '.join(FUNCTIONS)}"
        )

    allowed = (
        ast.Expression, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare, ast.Name,
        ast.Constant, ast.Call, ast.List, ast.Tuple, ast.Load, ast.And, ast.Or, ast.Not,
        ast.USub, ast.UAdd, ast.In, ast.NotIn,
        *_BINOPS, *_CMPOPS,
    )  # fmt: skip
    if isinstance(node, ast.Attribute):
        raise refuse(f"attribute access '.{node.attr}'")
    if not isinstance(node, allowed):
        raise refuse(f"{type(node).__name__}")
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Attribute):
            raise refuse(f"attribute access '.{node.func.attr}'")
        if isinstance(node.func, ast.Lambda):
            raise refuse("calling a lambda")
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            called = (
                node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)[:40]
            )
            raise refuse(f"calling {called!r}")
        if node.keywords:
            raise refuse("a keyword argument")
        want = FUNCTIONS[node.func.id][1]
        if len(node.args) != want:
            raise DataError(
                f"{subject(where, text)}: {node.func.id}() takes {want} argument(s), "
                f"got {len(node.args)}"
            )
    if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float, str, bool)):
        raise refuse(f"the constant {node.value!r}")
    if isinstance(node, ast.Name) and node.id.startswith("__") and not node.id.startswith("__col"):
        raise refuse(f"the name {node.id!r}")


def evaluate(
    expr: Expression, columns: Mapping[str, Column], where: str | None = None, n: int | None = None
) -> Column:
    """Evaluate ``expr`` over ``columns`` (name -> :class:`Column`, all ``[n]``).

    Args:
        n: the number of rows; needed when ``columns`` is empty (a constant expression is
            broadcast to ``[n]``); default: the length of the columns.

    Returns:
        A numeric :class:`Column` ``[n]`` (labels are not a valid result: compare them);
        its ``coerced`` names the label columns read as numbers.

    Raises:
        DataError: an unknown column, arithmetic on labels, a label result.
    """
    where = where or term("derive")
    missing_cols = [n for n in expr.names() if n not in columns]
    if missing_cols:
        shown = ", ".join(list(columns)[:40])
        raise DataError(
            f"{subject(where, expr.text)}: no column {missing_cols[0]!r} (use `backticks` for "
            f"names with spaces); columns: {shown}"
        )
    if n is None:
        n = len(next(iter(columns.values())).values) if columns else 1
    miss = np.zeros(n, dtype=bool)
    for name in expr.names():
        miss |= columns[name].missing
    ev = _Evaluator(expr, columns, where, n)
    with np.errstate(all="ignore"):
        value = ev.visit(expr.tree.body)
    if isinstance(value, _Text):
        raise DataError(
            f"{subject(where, expr.text)}: the result is a label (text); compare it, e.g. "
            f'{expr.text} == "LABEL"'
        )
    for name in ev.coerced:
        col = columns[name]
        miss |= ~col.missing & ~np.isfinite(col.numbers)  # type: ignore[arg-type]
    out = np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy()
    out[miss] = np.nan
    return Column(out, miss, True, coerced=tuple(ev.coerced))


class _Text:
    """Labels (object array of str, or one str constant); ``column``: the name of the
    column they come from (None for a constant)."""

    def __init__(self, values, column: str | None = None) -> None:
        self.values = values
        self.column = column


class _Evaluator:
    def __init__(self, expr: Expression, columns: Mapping[str, Column], where: str, n: int):
        self.expr, self.columns, self.where, self.n = expr, columns, where, n
        self.coerced: dict[str, None] = {}

    def error(self, msg: str) -> DataError:
        return DataError(f"{subject(self.where, self.expr.text)}: {msg}")

    def number(self, v, what: str):
        if isinstance(v, _Text):
            col = self.columns.get(v.column) if v.column is not None else None
            if col is not None and col.numbers is not None:
                self.coerced[v.column] = None  # type: ignore[index]
                return col.numbers
            named = f" (column {v.column!r})" if v.column is not None else ""
            raise self.error(f"{what} needs numbers, got labels (text){named}")
        return v

    def numbers_if_any(self, v):
        """``v``, or its column's numbers when ``v`` is a mostly-numeric label column."""
        if isinstance(v, _Text) and v.column is not None:
            col = self.columns.get(v.column)
            if col is not None and col.numbers is not None:
                return self.number(v, "")
        return v

    def visit(self, node: ast.AST):
        if isinstance(node, ast.Constant):
            if isinstance(node.value, str):
                return _Text(node.value.strip())
            try:
                return float(node.value)
            except OverflowError:
                raise self.error(f"the number {str(node.value)[:20]}... is too large") from None
        if isinstance(node, ast.Name):
            name = self.expr.aliases.get(node.id, node.id)
            if name not in self.columns:
                what = "a function, called as NAME(x)" if name in FUNCTIONS else "no such column"
                raise self.error(f"{node.id!r}: {what}")
            col = self.columns[name]
            return col.values if col.numeric else _Text(col.values, name)
        if isinstance(node, ast.UnaryOp):
            v = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return (np.asarray(self.number(v, "'not'")) == 0).astype(np.float64)
            v = self.number(v, "a sign")
            return -v if isinstance(node.op, ast.USub) else +v
        if isinstance(node, ast.BinOp):
            sym = _SYMBOLS[type(node.op)]
            a = self.number(self.visit(node.left), f"'{sym}'")
            b = self.number(self.visit(node.right), f"'{sym}'")
            return _BINOPS[type(node.op)](a, b)
        if isinstance(node, ast.BoolOp):
            vals = [np.asarray(self.number(self.visit(v), "and/or")) != 0 for v in node.values]
            acc = vals[0]
            for v in vals[1:]:
                acc = (acc & v) if isinstance(node.op, ast.And) else (acc | v)
            return acc.astype(np.float64)
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.Call):
            fn, _ = FUNCTIONS[node.func.id]  # type: ignore[union-attr]
            args = [self.number(self.visit(a), f"{node.func.id}()") for a in node.args]  # type: ignore[union-attr]
            return fn(*args)
        raise self.error(f"{type(node).__name__} cannot be used here")

    def compare(self, node: ast.Compare):
        left = self.visit(node.left)
        result = np.ones(self.n, dtype=bool)
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, (ast.In, ast.NotIn)):
                if not isinstance(right_node, (ast.List, ast.Tuple)) or not all(
                    isinstance(e, ast.Constant) for e in right_node.elts
                ):
                    raise self.error('\'in\' needs a list of constants, e.g. x in ["a", "b"]')
                consts = [e.value for e in right_node.elts]  # type: ignore[attr-defined]
                if isinstance(left, _Text):
                    pool = np.array([str(c).strip() for c in consts], dtype=object)
                    hit = np.isin(np.asarray(left.values, dtype=object), pool)
                else:
                    try:
                        pool_f = np.array([float(c) for c in consts])
                    except (TypeError, ValueError):
                        raise self.error("'in' compares numbers with labels") from None
                    hit = np.isin(np.asarray(left, dtype=np.float64), pool_f)
                step = hit if isinstance(op, ast.In) else ~hit
                right = None
            else:
                right = self.visit(right_node)
                if isinstance(left, _Text) != isinstance(right, _Text):  # a mostly-numeric column?
                    left, right = self.numbers_if_any(left), self.numbers_if_any(right)
                if isinstance(left, _Text) != isinstance(right, _Text):
                    raise self.error(
                        "a comparison of labels (text) with numbers; quote the label, "
                        'e.g. col == "Yes", or compare numbers with numbers'
                    )
                if isinstance(left, _Text):
                    if not isinstance(op, (ast.Eq, ast.NotEq)):
                        raise self.error("labels (text) can only be compared with == or !=")
                    a = np.asarray(left.values, dtype=object)
                    b = right.values  # type: ignore[union-attr]
                    step = (a == b) if isinstance(op, ast.Eq) else (a != b)
                else:
                    step = _CMPOPS[type(op)](left, right)
            result = result & np.broadcast_to(np.asarray(step, dtype=bool), (self.n,))
            left = right
        return result.astype(np.float64)
