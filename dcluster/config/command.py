"""Command templates from the configuration, always run as argument lists.

Run through a shell, a template with host names and job ids interpolated
(``showres -n | grep {0}``, ``qconf -sp {0} | grep allocation_rule | awk ...``,
as Dynamic Cluster's configuration had them) is an injection hole: a node or
job name becomes shell code.  Here a template is split once, with
shlex, into a fixed argv; each ``{0}``-style placeholder is filled inside a
single argument, so a value can never become a second argument or a shell
construct.  Templates that need a shell are refused at validation time.
"""

from __future__ import annotations

import re
import shlex
import string
from dataclasses import dataclass

# Tokens that only mean something to a shell.
_SHELL_TOKENS = {"|", "||", "&&", ";", "&", ">", ">>", "<", "<<", "2>", "2>&1", "$(", "`"}
_SHELL_CHARS = re.compile(r"[|;&`<>]|\$\(")

# A value substituted into a command must look like a name, an id or a number.
SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.@:%=,+/\[\]*-][A-Za-z0-9_.@:%=,+/\[\]*#~ -]*$")


class CommandError(ValueError):
    pass


def shell_problem(template: str) -> str | None:
    """Why a template needs a shell, or None when it is a plain command."""
    try:
        argv = shlex.split(template)
    except ValueError as exc:
        return f"cannot be split into arguments ({exc})"
    if not argv:
        return "is empty"
    for tok in argv:
        if tok in _SHELL_TOKENS or _SHELL_CHARS.search(tok):
            return (
                f"uses shell syntax ({tok!r}); commands run without a shell, "
                "so give the command alone (dcluster filters its output itself)"
            )
    return None


@dataclass(frozen=True, slots=True)
class Command:
    """A validated command template: ``argv`` with ``str.format`` fields."""

    template: str
    argv: tuple[str, ...]

    @classmethod
    def parse(cls, template: str) -> Command:
        problem = shell_problem(template)
        if problem:
            raise CommandError(f"{template!r} {problem}")
        return cls(template, tuple(shlex.split(template)))

    @property
    def fields(self) -> int:
        """How many positional fields the template uses."""
        top = -1
        for arg in self.argv:
            for _, name, _, _ in string.Formatter().parse(arg):
                if name is not None and name.isdigit():
                    top = max(top, int(name))
        return top + 1

    def render(self, *values: object, keep_empty: bool = False) -> list[str]:
        """The argv with values filled in.  Values are checked, never split.

        An argument that becomes empty after formatting is dropped, so an
        optional trailing field (``qhost -q -j -xml {0} {1}``) may be "";
        ``keep_empty`` keeps it (hooks: "$3" must stay the third value).
        """
        clean = []
        for value in values:
            text = str(value)
            if text and not SAFE_VALUE.fullmatch(text):
                raise CommandError(f"refusing unsafe value {text!r} for command {self.argv[0]}")
            clean.append(text)
        out = []
        for arg in self.argv:
            try:
                rendered = arg.format(*clean)
            except (IndexError, KeyError) as exc:
                raise CommandError(f"command {self.template!r} needs more values than {len(clean)}") from exc
            if rendered or not arg or keep_empty:
                out.append(rendered)
        return out

    def __str__(self) -> str:
        return self.template
