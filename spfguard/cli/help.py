"""Help text a person reads: an argument's metavar (``DOMAIN...``, ``IP``) stands for itself, without the
type label Typer appends (``DOMAIN <str>``) or the braces it puts around required arguments in the usage line
(``{DOMAIN}``). Click's own convention: ``NAME`` required, ``[NAME]`` optional."""

from __future__ import annotations

from typer.core import TyperArgument

_type_label = TyperArgument.display_type_rich


def _display_type(self, ctx):
    return None if self.metavar is not None else _type_label(self, ctx)


def _usage_name(self) -> str:
    name = self.display_name_raw
    if self.nargs != 1 and not name.endswith("..."):
        name += "..."
    return name if self.required else f"[{name}]"


setattr(TyperArgument, "display_type_rich", _display_type)  # noqa: B010 - a documented seam of Typer's help
setattr(TyperArgument, "_usage_display_name", _usage_name)  # noqa: B010
