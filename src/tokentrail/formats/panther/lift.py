"""Lift a Panther Python ``rule()`` into the detection IR when it is a pure predicate over fields.

The source is read with ``ast``, never run. What lifts: reads of event fields (``event.get(k[, d])``,
``event[k]``, chained ``.get``, ``event.deep_get(...)``, ``deep_get(event, ...)``), string and
collection constants (module-level ``NAME = literal`` too), ``==``/``!=``, ``in``/``not in``
against constants, ``in`` on a string field, ``startswith``/``endswith``, ``.lower()``/
``.upper()``, ``is None``, order comparisons with numbers, ``and``/``or``/``not``, conditional
expressions, local assignments, ``if``/``elif``/``else`` with early returns, and calls of the
module's own single-purpose functions (inlined). Anything else stops the lift with a reason
naming the construct and its line (``LiftFailure``); the rule keeps running as Python.

Meaning, as the Python evaluates it on JSON events: a field read gives the value, or the default
when the key is absent (``deep_get`` and ``x or ""``: when absent or null). Comparisons of text
are case-sensitive unless the field went through ``.lower()``/``.upper()``. The truth of a field
value is "present, not null, not empty text, not false, not 0". Where the Python would raise
(``None.lower()``, ``"x" in None``), no alert is raised either way. Differences left by design,
as the IR compares values across JSON types: a JSON ``true`` equals the text ``"true"`` and a
number its decimal text (``5 == "5"``), so the texts ``"false"`` and ``"0"`` count as false;
and a list, at the end of a path or on the way, is fanned out: a comparison holds when it holds
for one element (the Python compares the list itself, or fails calling ``.get`` on it). ``in`` on a field is read as a substring test when
the field is known to be text (a text default, ``or ""``, ``.lower()``), as element membership
when its default is a list or tuple, and stops the lift otherwise.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any as AnyType

from tokentrail.rules.ir import Cmp, Const, Exists, Expr, Op, all_of, any_of, negate

TRUE, FALSE = Const(True), Const(False)
MAX_INLINE_DEPTH = 8
MAX_BRANCHES = 2000  # ifs that fall through copy what follows them into both branches
_DEEP_GET_MODULES = {"panther_base_helpers", "panther_detection_helpers.deep_get",
                     "panther_detection_helpers", "panther_base_helpers.deep_get"}
_ORDER: dict[type, Op] = {ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_MIRROR: dict[type, type] = {ast.Lt: ast.Gt, ast.LtE: ast.GtE, ast.Gt: ast.Lt, ast.GtE: ast.LtE,
                             ast.Eq: ast.Eq, ast.NotEq: ast.NotEq}


class LiftFailure(Exception):
    """The rule is not a pure predicate; ``reason`` names the construct and its line."""

    def __init__(self, construct: str, node: ast.AST | None = None) -> None:
        line = getattr(node, "lineno", None)
        self.reason = construct + (f" (line {line})" if line else "")
        super().__init__(self.reason)


@dataclass(frozen=True, slots=True)
class Lifted:
    """The outcome of a lift: ``expr`` when the rule lifted, else ``reason``."""

    expr: Expr | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class _Field:
    """The value of an event field read with ``default`` when absent (and when null if
    ``null_default``); ``kind`` is what the value is known to be (``str``, ``list``) or None;
    ``fold`` is ``lower``/``upper`` after such a call."""

    path: tuple[str, ...]
    default: AnyType = None
    null_default: bool = False
    kind: str | None = None
    fold: str | None = None

    @property
    def name(self) -> str:
        return ".".join(self.path)


@dataclass(frozen=True, slots=True)
class _Const:
    value: AnyType


@dataclass(frozen=True, slots=True)
class _Pred:
    """A boolean computed from the event."""

    expr: Expr


_Value = _Field | _Const | _Pred
_EVENT = object()  # the symbolic value of the rule's ``event`` parameter


ModuleSource = Callable[[str], "str | None"]


def lift_rule(source: str, function: str = "rule", *, modules: ModuleSource | None = None) -> Lifted:
    """Lift ``function`` of the module ``source``; never raises for what cannot be lifted.

    ``modules`` gives the source of an imported module by name (global helpers), so that the
    helpers a rule calls are inlined like the module's own functions.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        return Lifted(None, f"the module does not parse: {exc.msg if isinstance(exc, SyntaxError) else exc}")
    try:
        return Lifted(_Lifter(tree, _Shared(modules)).lift(function))
    except LiftFailure as exc:
        return Lifted(None, exc.reason)
    except RecursionError:
        return Lifted(None, "nesting too deep to lift")


def _kind_of(value: AnyType) -> str | None:
    if isinstance(value, str):
        return "str"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "dict"
    return None


and_, or_, not_ = all_of, any_of, negate


class _Shared:
    """What the lifters of one rule and of the helpers it calls share: the budget and modules."""

    def __init__(self, modules: ModuleSource | None) -> None:
        self.modules = modules
        self.lifters: dict[str, _Lifter | None] = {}
        self.depth = 0
        self.steps = 0

    def lifter(self, module: str) -> _Lifter | None:
        if module not in self.lifters:
            source = self.modules(module) if self.modules is not None else None
            try:
                self.lifters[module] = _Lifter(ast.parse(source), self) if source is not None else None
            except (SyntaxError, ValueError):
                self.lifters[module] = None
        return self.lifters[module]


class _Lifter:
    def __init__(self, tree: ast.Module, shared: _Shared) -> None:
        self.shared = shared
        self.constants: dict[str, AnyType] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.deep_get_names: set[str] = set()
        self.imported: dict[str, tuple[str, str]] = {}  # local name -> (module, name)
        self.modules_imported: set[str] = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                self.functions[node.name] = node
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                try:
                    self.constants[node.targets[0].id] = _literal(node.value)
                except LiftFailure:
                    self.constants.pop(node.targets[0].id, None)
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    local = alias.asname or alias.name
                    if alias.name == "deep_get" and (node.module or "") in _DEEP_GET_MODULES:
                        self.deep_get_names.add(local)
                    elif node.module and not node.level:
                        self.imported[local] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                self.modules_imported.update((a.asname or a.name).split(".")[0] for a in node.names)

    def lift(self, name: str) -> Expr:
        func = self.functions.get(name)
        if func is None:
            raise LiftFailure(f"no {name}() function")
        params = func.args.args
        if len(params) != 1 or func.args.vararg or func.args.kwonlyargs:
            raise LiftFailure(f"{name}() takes other parameters than the event", func)
        return self.block(func.body, {params[0].arg: _EVENT})

    # -- statements -------------------------------------------------------------------------

    def block(self, body: list[ast.stmt], env: dict[str, AnyType]) -> Expr:
        """The truth of what ``body`` returns (falling off the end returns None: no alert)."""
        self.shared.steps += 1
        if self.shared.steps > MAX_BRANCHES:
            raise LiftFailure("too many branches to lift")
        for index, stmt in enumerate(body):
            if isinstance(stmt, ast.Return):
                return self.truth(stmt.value, env) if stmt.value is not None else FALSE
            if isinstance(stmt, ast.If):
                cond = self.truth(stmt.test, env)
                rest = body[index + 1:]
                then = self.block([*stmt.body, *rest], dict(env))
                other = self.block([*stmt.orelse, *rest], dict(env))
                return or_(and_(cond, then), and_(not_(cond), other))
            if isinstance(stmt, ast.Assign):
                if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
                    raise LiftFailure("assignment to anything but one name", stmt)
                env[stmt.targets[0].id] = self.value(stmt.value, env)
                continue
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value is not None:
                env[stmt.target.id] = self.value(stmt.value, env)
                continue
            if isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
                continue
            raise LiftFailure(f"statement {type(stmt).__name__.lower()}", stmt)
        return FALSE

    # -- values -----------------------------------------------------------------------------

    def value(self, node: ast.expr, env: Mapping[str, AnyType]) -> AnyType:
        """What ``node`` stands for: the event, a field, a constant or a predicate."""
        if isinstance(node, ast.Constant):
            return _Const(node.value)
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in self.constants:
                return _Const(self.constants[node.id])
            if node.id in ("True", "False", "None"):
                return _Const({"True": True, "False": False, "None": None}[node.id])
            raise LiftFailure(f"name {node.id} that is not a constant of the module", node)
        if isinstance(node, ast.List | ast.Tuple | ast.Set | ast.Dict):
            return _Const(_literal(node))
        if isinstance(node, ast.Subscript):
            return self.subscript(node, env)
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and len(node.values) == 2:
            first = self.value(node.values[0], env)
            fallback = self.value(node.values[1], env)
            if isinstance(first, _Field) and isinstance(fallback, _Const) and not fallback.value \
                    and first.fold is None and (first.default is None or not first.default):
                # ``x or ""``: a falsy value and an absent or null one all give the fallback.
                kind = _kind_of(fallback.value) or first.kind
                return replace(first, default=fallback.value, null_default=True, kind=kind)
        if isinstance(node, ast.BoolOp | ast.UnaryOp | ast.Compare | ast.IfExp):
            return _Pred(self.truth(node, env))
        raise LiftFailure(f"expression {type(node).__name__.lower()}", node)

    def subscript(self, node: ast.Subscript, env: Mapping[str, AnyType]) -> AnyType:
        base = self.value(node.value, env)
        key = self.value(node.slice, env)
        if not (isinstance(key, _Const) and isinstance(key.value, str)):
            raise LiftFailure("subscript with anything but a text key", node)
        if base is _EVENT:
            return _Field((key.value,))
        if isinstance(base, _Field) and base.fold is None:
            return _Field((*base.path, key.value))
        raise LiftFailure("subscript of something other than the event or a field", node)

    def call(self, node: ast.Call, env: Mapping[str, AnyType]) -> AnyType:
        func = node.func
        if isinstance(func, ast.Attribute):
            target = self.value(func.value, env)
            method = func.attr
            if method == "get" and (target is _EVENT or isinstance(target, _Field)):
                return self.get(target, node, env)
            if method == "deep_get" and target is _EVENT:
                return self.deep_get(node.args, node, env)
            if method in ("lower", "upper", "casefold") and isinstance(target, _Field) and not node.args:
                if target.default is not None and not isinstance(target.default, str):
                    raise LiftFailure(f".{method}() on a field whose default is not text", node)
                # A None default makes ``.lower()`` raise when the field is absent: no alert then.
                return replace(target, fold="upper" if method == "upper" else "lower", kind="str")
            if method in ("startswith", "endswith"):
                return _Pred(self.affix(target, method, node, env))
            if method in ("udm", "deep_walk", "lookup"):
                raise LiftFailure(f"event.{method}() (data model, walk or lookup)", node)
            raise LiftFailure(f"method .{method}()", node)
        if isinstance(func, ast.Name):
            if func.id in self.deep_get_names:
                if not node.args or self.value(node.args[0], env) is not _EVENT:
                    raise LiftFailure("deep_get() on something other than the event", node)
                return self.deep_get(node.args[1:], node, env)
            if func.id == "bool" and len(node.args) == 1:
                return _Pred(self.truth(node.args[0], env))
            if func.id in ("all", "any") and len(node.args) == 1 and not node.keywords:
                parts = self.items_truth(node.args[0], env)
                return _Pred(and_(*parts) if func.id == "all" else or_(*parts))
            if func.id in self.functions:
                return self.inline(self, self.functions[func.id], node, env)
            if func.id in self.imported:
                module, name = self.imported[func.id]
                helper = self.shared.lifter(module)
                if helper is None or name not in helper.functions:
                    raise LiftFailure(f"call of imported helper {func.id}()", node)
                return helper.inline(self, helper.functions[name], node, env)
            raise LiftFailure(f"call of {func.id}()", node)
        raise LiftFailure("call of a computed function", node)

    def items_truth(self, node: ast.expr, env: Mapping[str, AnyType]) -> list[Expr]:
        """The truth of each item of ``all(...)``/``any(...)``: a list or tuple written out, or a
        comprehension over a constant collection (one ``for``, no ``if``)."""
        if isinstance(node, ast.List | ast.Tuple):
            return [self.truth(item, env) for item in node.elts]
        if isinstance(node, ast.GeneratorExp | ast.ListComp) and len(node.generators) == 1:
            loop = node.generators[0]
            values = self.value(loop.iter, env)
            if loop.ifs or loop.is_async or not isinstance(loop.target, ast.Name) or not isinstance(values, _Const) \
                    or not isinstance(values.value, list | tuple | set | frozenset):
                raise LiftFailure("comprehension over anything but a constant collection", node)
            items = values.value.order if isinstance(values.value, _SourceSet) else values.value
            return [self.truth(node.elt, {**env, loop.target.id: _Const(v)}) for v in items]
        raise LiftFailure("all()/any() of anything but a list or a comprehension over constants", node)

    def get(self, target: AnyType, node: ast.Call, env: Mapping[str, AnyType]) -> _Field:
        if not node.args or len(node.args) > 2 or node.keywords:
            raise LiftFailure(".get() with other than a key and a default", node)
        key = self.value(node.args[0], env)
        if not (isinstance(key, _Const) and isinstance(key.value, str)):
            raise LiftFailure(".get() with a key that is not constant text", node)
        default = self.value(node.args[1], env) if len(node.args) == 2 else _Const(None)
        if not isinstance(default, _Const):
            raise LiftFailure(".get() with a default that is not a constant", node)
        if target is _EVENT:
            return _Field((key.value,), default.value, kind=_kind_of(default.value))
        assert isinstance(target, _Field)
        if target.fold is not None or (target.default is not None and not isinstance(target.default, dict)):
            raise LiftFailure(".get() on a field that may not be an object", node)
        return _Field((*target.path, key.value), default.value, kind=_kind_of(default.value))

    def deep_get(self, args: list[ast.expr], node: ast.Call, env: Mapping[str, AnyType]) -> _Field:
        keys = [self.value(a, env) for a in args]
        if not keys or not all(isinstance(k, _Const) and isinstance(k.value, str) for k in keys):
            raise LiftFailure("deep_get() with keys that are not constant text", node)
        default: AnyType = None
        for keyword in node.keywords:
            value = self.value(keyword.value, env)
            if keyword.arg != "default" or not isinstance(value, _Const):
                raise LiftFailure(f"deep_get() argument {keyword.arg}", node)
            default = value.value
        return _Field(tuple(k.value for k in keys), default, null_default=True, kind=_kind_of(default))

    def inline(self, caller: _Lifter, func: ast.FunctionDef, node: ast.Call, env: Mapping[str, AnyType]) -> AnyType:
        """The call ``node`` (arguments read by ``caller`` in ``env``) of this module's ``func``."""
        if node.keywords or func.args.vararg or func.args.kwonlyargs or len(node.args) != len(func.args.args):
            raise LiftFailure(f"call of {func.name}() with defaults or keywords", node)
        if self.shared.depth >= MAX_INLINE_DEPTH:
            raise LiftFailure(f"calls nested too deep at {func.name}()", node)
        bound = {p.arg: caller.value(a, env) for p, a in zip(func.args.args, node.args, strict=True)}
        body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        self.shared.depth += 1
        try:
            if len(body) == 1 and isinstance(body[0], ast.Return) and body[0].value is not None:
                return self.value(body[0].value, bound)
            return _Pred(self.block(body, bound))
        except LiftFailure as exc:
            raise LiftFailure(f"{exc.reason} in {func.name}()", node) from None
        finally:
            self.shared.depth -= 1

    # -- predicates -------------------------------------------------------------------------

    def truth(self, node: ast.expr, env: Mapping[str, AnyType]) -> Expr:
        """The IR for "``node`` is truthy"."""
        if isinstance(node, ast.BoolOp):
            parts = [self.truth(v, env) for v in node.values]
            return and_(*parts) if isinstance(node.op, ast.And) else or_(*parts)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return not_(self.truth(node.operand, env))
        if isinstance(node, ast.IfExp):
            cond = self.truth(node.test, env)
            return or_(and_(cond, self.truth(node.body, env)), and_(not_(cond), self.truth(node.orelse, env)))
        if isinstance(node, ast.Compare):
            return self.compare(node, env)
        return self.truth_of(self.value(node, env), node)

    def truth_of(self, value: AnyType, node: ast.AST) -> Expr:
        if isinstance(value, _Pred):
            return value.expr
        if isinstance(value, _Const):
            return Const(bool(value.value))
        if isinstance(value, _Field):
            falsy = Cmp(value.name, "eq", ("", False, 0), cased=True)
            filled = and_(Exists(value.name, non_null=True), not_(falsy))
            return or_(filled, self.default_holds(value, bool(value.default)))
        raise LiftFailure("truth of the event itself", node)

    def default_holds(self, value: _Field, holds: bool) -> Expr:
        """When the read gives the default, if ``holds`` says the test is true for it."""
        if not holds:
            return FALSE
        return not_(Exists(value.name, non_null=True)) if value.null_default else not_(Exists(value.name))

    def compare(self, node: ast.Compare, env: Mapping[str, AnyType]) -> Expr:
        parts: list[Expr] = []
        left_node = node.left
        for op, right_node in zip(node.ops, node.comparators, strict=True):
            parts.append(self.compare_one(self.value(left_node, env), op, self.value(right_node, env), node))
            left_node = right_node
        return and_(*parts)

    def compare_one(self, left: AnyType, op: ast.cmpop, right: AnyType, node: ast.AST) -> Expr:
        if isinstance(op, ast.NotEq | ast.NotIn | ast.IsNot):
            positive = {ast.NotEq: ast.Eq(), ast.NotIn: ast.In(), ast.IsNot: ast.Is()}[type(op)]
            return not_(self.compare_one(left, positive, right, node))
        if isinstance(left, _Pred) or isinstance(right, _Pred):
            raise LiftFailure("comparison of a boolean", node)
        if isinstance(left, _Const) and isinstance(right, _Const):
            try:
                return Const(bool(_python_compare(left.value, op, right.value)))
            except TypeError:
                raise LiftFailure("comparison of constants that Python refuses", node) from None
        if isinstance(op, ast.In):
            return self.membership(left, right, node)
        if isinstance(left, _Const) and isinstance(op, ast.Eq | ast.Lt | ast.LtE | ast.Gt | ast.GtE):
            return self.compare_one(right, _MIRROR[type(op)](), left, node)
        if not isinstance(left, _Field) or not isinstance(right, _Const):
            raise LiftFailure("comparison of two fields", node)
        if isinstance(op, ast.Is):
            if right.value is not None and not isinstance(right.value, bool):
                raise LiftFailure("'is' with a constant other than None, True or False", node)
            return self.equal(left, right.value)
        if isinstance(op, ast.Eq):
            return self.equal(left, right.value)
        if type(op) in _ORDER:
            number = right.value
            if isinstance(number, bool) or not isinstance(number, int | float) or left.fold is not None:
                raise LiftFailure("order comparison with anything but a number", node)
            field_part = Cmp(left.name, _ORDER[type(op)], (number,))
            try:
                holds = left.default is not None and bool(_python_compare(left.default, op, number))
            except TypeError:
                holds = False
            return or_(field_part, self.default_holds(left, holds))
        raise LiftFailure(f"comparison {type(op).__name__}", node)

    def equal(self, left: _Field, value: AnyType) -> Expr:
        if value is None:
            # The read gives None for a JSON null (unless that gives the default) or a None default.
            if left.null_default:
                return not_(Exists(left.name, non_null=True)) if left.default is None else FALSE
            null = and_(Exists(left.name), not_(Exists(left.name, non_null=True)))
            return or_(null, not_(Exists(left.name)) if left.default is None else FALSE)
        default = _fold_text(left.default, left.fold)
        return or_(self.field_equals(left, (value,)), self.default_holds(left, default == value))

    def field_equals(self, left: _Field, values: tuple) -> Expr:
        if left.fold is not None:
            kept = tuple(v for v in values if isinstance(v, str) and _fold_text(v, left.fold) == v)
            return Cmp(left.name, "eq", kept, cased=False) if kept else FALSE
        if any(isinstance(v, list | tuple | dict | set | frozenset) for v in values):
            raise LiftFailure("equality with a collection")
        return Cmp(left.name, "eq", values, cased=all(isinstance(v, str) for v in values))

    def membership(self, left: AnyType, right: AnyType, node: ast.AST) -> Expr:
        if isinstance(left, _Field) and isinstance(right, _Const):
            items = right.value
            if isinstance(items, str):
                raise LiftFailure("'in' of a field in constant text", node)
            if not isinstance(items, list | tuple | set | frozenset | dict):
                raise LiftFailure("'in' of a field in a constant that is not a collection", node)
            if isinstance(items, _SourceSet):
                values = items.order
            else:
                values = tuple(sorted(items, key=repr) if isinstance(items, set | frozenset | dict) else items)
            if not values:
                return FALSE
            if not all(isinstance(v, str | int | float | bool) for v in values):
                raise LiftFailure("'in' a collection of anything but scalars", node)
            default = _fold_text(left.default, left.fold)
            return or_(self.field_equals(left, values), self.default_holds(left, default in values))
        if isinstance(left, _Const) and isinstance(right, _Field):
            needle = left.value
            kind = right.kind or _kind_of(right.default)
            if kind == "str":
                if not isinstance(needle, str):
                    raise LiftFailure("'in' of a non-text constant in a text field", node)
                default = _fold_text(right.default, right.fold)
                in_default = isinstance(default, str) and needle in default
                if right.fold is not None:
                    if _fold_text(needle, right.fold) != needle:
                        return self.default_holds(right, in_default)
                    return or_(Cmp(right.name, "contains", (needle,), cased=False), self.default_holds(right, in_default))
                return or_(Cmp(right.name, "contains", (needle,), cased=True), self.default_holds(right, in_default))
            if kind == "list":
                if right.fold is not None or not isinstance(needle, str | int | float | bool):
                    raise LiftFailure("'in' of a list field with a folded or collection value", node)
                return or_(Cmp(right.name, "eq", (needle,), cased=isinstance(needle, str)),
                           self.default_holds(right, needle in right.default))
            if kind == "dict" and isinstance(needle, str) and right.fold is None:
                return or_(Exists(f"{right.name}.{needle}"), self.default_holds(right, needle in right.default))
            raise LiftFailure("'in' on a field that may be text or a list", node)
        raise LiftFailure("'in' between two fields", node)

    def affix(self, target: AnyType, method: str, node: ast.Call, env: Mapping[str, AnyType]) -> Expr:
        if not isinstance(target, _Field) or len(node.args) != 1 or node.keywords:
            raise LiftFailure(f".{method}() on something other than a field, or with more arguments", node)
        arg = self.value(node.args[0], env)
        if not isinstance(arg, _Const):
            raise LiftFailure(f".{method}() of a value that is not constant", node)
        texts = arg.value if isinstance(arg.value, tuple | list) else (arg.value,)
        if not texts or not all(isinstance(t, str) for t in texts):
            raise LiftFailure(f".{method}() of anything but text", node)
        if target.default is not None and not isinstance(target.default, str):
            raise LiftFailure(f".{method}() on a field whose default is not text", node)
        op: Op = "startswith" if method == "startswith" else "endswith"
        default = _fold_text(target.default, target.fold)
        in_default = isinstance(default, str) and any(getattr(default, method)(t) for t in texts)
        if target.fold is not None:
            kept = tuple(t for t in texts if _fold_text(t, target.fold) == t)
            field_part: Expr = Cmp(target.name, op, kept, cased=False) if kept else FALSE
        else:
            field_part = Cmp(target.name, op, tuple(texts), cased=True)
        return or_(field_part, self.default_holds(target, in_default))


def _fold_text(value: AnyType, fold: str | None) -> AnyType:
    if fold is None or not isinstance(value, str):
        return value
    return value.upper() if fold == "upper" else value.lower()


def _python_compare(a: AnyType, op: ast.cmpop, b: AnyType) -> bool:
    ops: dict[type, Callable[[AnyType, AnyType], bool]] = {
        ast.Eq: lambda x, y: x == y, ast.NotEq: lambda x, y: x != y, ast.Lt: lambda x, y: x < y,
        ast.LtE: lambda x, y: x <= y, ast.Gt: lambda x, y: x > y, ast.GtE: lambda x, y: x >= y,
        ast.In: lambda x, y: x in y, ast.NotIn: lambda x, y: x not in y, ast.Is: lambda x, y: x is y,
        ast.IsNot: lambda x, y: x is not y,
    }
    return ops[type(op)](a, b)


class _SourceSet(frozenset):
    """A set constant that remembers the order its source wrote it in (for stages and indicators)."""

    order: tuple = ()


def _source_set(items: Iterable[AnyType]) -> _SourceSet:
    ordered = tuple(dict.fromkeys(items))
    result = _SourceSet(ordered)
    result.order = ordered
    return result


def _literal(node: ast.expr) -> AnyType:
    """A constant from source: a literal, or ``set``/``frozenset``/``tuple``/``list`` of one."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
            and node.func.id in ("set", "frozenset", "tuple", "list") and len(node.args) <= 1 and not node.keywords:
        inner = _literal(node.args[0]) if node.args else ()
        if node.func.id in ("set", "frozenset"):
            return _source_set(inner.order if isinstance(inner, _SourceSet) else inner)
        return {"tuple": tuple, "list": list}[node.func.id](inner)
    if isinstance(node, ast.Set):
        return _source_set(_literal(item) for item in node.elts)
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        raise LiftFailure(f"constant {type(node).__name__.lower()} that is not a literal", node) from None
