"""How a field name written in a rule becomes the name to read on events of one log type.

Two rule dialects: ``native`` (Sigma, Panther: the vendor's own names, as the family's base log type
spells them) and ``ecs`` (Elastic: ECS names). A native name is first made canonical for its
family — Okta's lower-case SigmaHQ spellings get their real case, an Auth0 record field gets its
``data.`` envelope, a Salesforce Real-Time Event Monitoring name becomes its Event Log File column —
then renamed for the log type (envelope stripped for ``auth0.api``, RTEM names, native->ECS). An ECS
name on a native log type goes back through the family's ECS table first (its ``fields`` read
backwards, plus its ``aliases``: further ECS names of a native field). Renames work on the
longest known prefix, so ``debugcontext.debugdata.newKey`` keeps its unknown tail; a field no table
knows is left as written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import cache

from tokentrail.errors import ConfigError
from tokentrail.schemas.lookup import is_generic
from tokentrail.schemas.model import DIALECTS, LogType
from tokentrail.schemas.registry import Registry, registry


class PrefixTable:
    """Renames a dotted field by the longest prefix (whole parts) found in a table.

    ``{}`` array markers are ignored for matching; one on the last renamed part is kept.
    With ``ci`` the table's keys match regardless of case.
    """

    def __init__(self, table: Mapping[str, str], *, ci: bool = False) -> None:
        self.ci = ci
        self.table = {(k.lower() if ci else k): v for k, v in table.items()}

    def apply(self, field: str) -> str | None:
        """The renamed field, or ``None`` when no prefix of it is in the table."""
        parts = field.split(".")
        bare = [p[:-2] if p.endswith("{}") else p for p in parts]
        for i in range(len(parts), 0, -1):
            key = ".".join(bare[:i])
            target = self.table.get(key.lower() if self.ci else key)
            if target is not None:
                if parts[i - 1].endswith("{}"):
                    target += "{}"
                return ".".join([target, *parts[i:]])
        return None

    def __bool__(self) -> bool:
        return bool(self.table)


class FieldMap(Mapping[str, str]):
    """The renames for one (log type, rule dialect); usable with ``rules.ir.map_fields``.

    Lookups resolve any field name, not only the listed ones (``m.get(f, f)`` is always the name
    to read); a name maps here when it resolves to a different name. Iteration lists the renames of
    the names the data files mention.
    """

    def __init__(self, resolve: Callable[[str], str], listed: tuple[str, ...]) -> None:
        self._resolve = resolve
        self._listed = listed
        self._memo: dict[str, str] = {}

    def resolve(self, field: str) -> str:
        """The event field name for a rule field name (itself when nothing renames it)."""
        out = self._memo.get(field)
        if out is None:
            out = self._memo[field] = self._resolve(field)
        return out

    def __getitem__(self, field: str) -> str:
        out = self.resolve(field)
        if out == field:
            raise KeyError(field)
        return out

    def __iter__(self) -> Iterator[str]:
        return (f for f in dict.fromkeys(self._listed) if self.resolve(f) != f)

    def __len__(self) -> int:
        return sum(1 for _ in self)


def dialect_of(rule_format: str) -> str:
    """The field dialect rules of a format are written in (Elastic rules use ECS names)."""
    return "ecs" if rule_format == "elastic" else "native"


def field_for(log_type: str, field: str, rule_dialect: str = "native") -> str:
    """The name to read on events of ``log_type`` for ``field`` as a rule of ``rule_dialect`` wrote it."""
    return field_map(log_type, rule_dialect).resolve(field)


@cache
def field_map(log_type: str, rule_dialect: str = "native") -> FieldMap:
    """The renames for rules of ``rule_dialect`` running on ``log_type`` (see ``FieldMap``).

    Raises ``ConfigError`` for an unknown log type or dialect.
    """
    return build_field_map(registry(), log_type, rule_dialect)


def build_field_map(reg: Registry, log_type: str, rule_dialect: str) -> FieldMap:
    """``field_map`` over a given registry."""
    lt = reg.get(log_type)
    if rule_dialect not in DIALECTS:
        raise ConfigError(f"unknown rule dialect {rule_dialect!r} (expected one of {', '.join(DIALECTS)})")
    if lt is None:
        if is_generic(log_type):
            return FieldMap(lambda field: field, ())  # no schema: fields are read as written
        raise ConfigError(f"unknown log type {log_type!r}")
    family = _Family(reg, lt.family)
    if rule_dialect == "native":

        def resolve(field: str) -> str:
            return family.to_event(lt, family.canonical(field))

        listed = (
            family.base.known_fields
            + family.native_names()
            + tuple(lt.renames)
            + tuple(family.ecs_forward.table)
        )
    elif lt.is_ecs:
        return FieldMap(lambda field: field, ())
    else:

        def resolve(field: str) -> str:
            native = family.ecs_reverse.apply(field)
            return field if native is None else family.to_event(lt, native)

        listed = tuple(family.ecs_reverse.table)
    return FieldMap(resolve, listed)


class _Family:
    """The naming facts of one family of log types, gathered for field resolution."""

    def __init__(self, reg: Registry, name: str) -> None:
        base = reg.get(name)
        if base is None:
            raise ConfigError(f"log type family {name!r} has no base log type")
        self.base: LogType = base
        reverse: dict[str, str] = {}
        for member in reg.family(name):
            for column, renamed in member.renames.items():
                reverse.setdefault(renamed, column)
        self.member_reverse = PrefixTable(reverse)
        self.renames = {m.name: PrefixTable(m.renames) for m in reg.family(name) if m.renames}
        self.case = (
            PrefixTable({f: f for f in base.known_fields}, ci=True) if base.case_insensitive_fields else None
        )
        self.known = frozenset(base.known_fields)
        ecs = reg.ecs_of(name)
        forward = {self.canonical(k): v for k, v in (ecs.ecs_fields if ecs else {}).items()}
        self.ecs_forward = PrefixTable(forward)
        backward: dict[str, str] = {}
        for native, ecs_name in forward.items():
            backward.setdefault(ecs_name, native)
        # Aliases only read back: an Elastic rule may name any ECS field the integration fills.
        for ecs_name, native in (ecs.ecs_aliases if ecs else {}).items():
            backward[ecs_name] = self.canonical(native)
        self.ecs_reverse = PrefixTable(backward)

    def canonical(self, field: str) -> str:
        """A native rule field in the family's base spelling."""
        renamed = self.member_reverse.apply(field) if self.member_reverse else None
        if renamed is not None:
            return renamed
        if self.case is not None:
            field = self.case.apply(field) or field
        prefix = self.base.implicit_prefix
        if prefix:
            first = field.split(".", 1)[0].removesuffix("{}")
            if first not in self.known and prefix + first in self.known:
                return prefix + field
        return field

    def to_event(self, lt: LogType, field: str) -> str:
        """A canonical native field as events of ``lt`` name it."""
        if lt.is_ecs:
            return self.ecs_forward.apply(field) or field
        if lt.name in self.renames:
            return self.renames[lt.name].apply(field) or field
        if lt.strip_prefix and field.startswith(lt.strip_prefix):
            return field[len(lt.strip_prefix) :]
        return field

    def native_names(self) -> tuple[str, ...]:
        """Names the data files know in this family: case variants, bare record fields, RTEM names."""
        names = list(self.member_reverse.table)
        if self.case is not None:
            names += self.case.table  # the lower-cased spellings SigmaHQ rules use
        prefix = self.base.implicit_prefix
        if prefix:
            names += [k[len(prefix) :] for k in self.base.known_fields if k.startswith(prefix)]
        return tuple(names)
