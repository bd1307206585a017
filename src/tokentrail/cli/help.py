"""Help pages that read well: no ``<bool>`` or ``<list[Path]>`` labels.

Typer labels each parameter with its Python type. TokenTrail's options and arguments name their
values with ``metavar=`` (PATH, FILE, N, FORMAT); these command classes give flags — ours and
the ones Typer adds (``--help``, ``--install-completion``) — an empty label, and drop the type
Typer prints beside an argument that has a metavar.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperCommand, TyperGroup


def _unlabelled_flags(params: list[Any]) -> list[Any]:
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        elif param.param_type_name == "argument" and param.metavar is not None:
            # Typer prints an argument's Python type beside its name; the metavar says it all.
            param.display_type_rich = _no_type
    return params


def _no_type(ctx: Any) -> None:
    return None


class Command(TyperCommand):
    """A command whose help shows no type label on flags."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _unlabelled_flags(super().get_params(ctx))


class Group(TyperGroup):
    """A command group whose help shows no type label on flags."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _unlabelled_flags(super().get_params(ctx))
