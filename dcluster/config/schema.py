"""A small declarative validator for the ``dcluster`` pillar.

Why our own and not a library: the error format is part of the product
(``dcluster:cloud:nectar:quantity:max: 0 is below min 2``), all errors are
reported at once, unknown keys are errors, secrets are wrapped as they are
read, and the same declarations generate the documentation check of
``pillar.example``.  That is ~200 lines; a general library would still need
all of it as glue.

A schema is a :class:`Dict` of :class:`Field` specs.  :func:`check` walks the
data and the schema together and returns ``(value, errors)``; the value has
defaults filled in, secrets wrapped and commands parsed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..wire import LARGEST
from .command import Command, CommandError
from .secret import Secret

MISSING = object()


class ConfigError(ValueError):
    """Raised with every problem found; ``errors`` lists them one per line."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("invalid dcluster configuration:\n  " + "\n  ".join(self.errors))


def path_str(path: tuple[str, ...]) -> str:
    return ":".join(str(p) for p in path)


def show(value: Any) -> str:
    """A value as it may appear in an error: short, and never a secret."""
    if isinstance(value, Secret):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


@dataclass(frozen=True)
class Spec:
    doc: str = ""
    default: Any = MISSING
    required: bool = False
    nullable: bool = True  # None / "" count as "not set"

    def check(self, value: Any, path: tuple[str, ...], errors: list[str]) -> Any:  # pragma: no cover
        raise NotImplementedError


@dataclass(frozen=True)
class Scalar(Spec):
    kind: type | tuple[type, ...] = str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[Any, ...] | None = None
    secret: bool = False
    extra: Callable[[Any], str | None] | None = None  # returns an error text or None

    def check(self, value: Any, path: tuple[str, ...], errors: list[str]) -> Any:
        kinds = self.kind if isinstance(self.kind, tuple) else (self.kind,)
        if bool not in kinds and isinstance(value, bool):
            errors.append(f"{path_str(path)}: {show(value)} is a boolean, expected {_kind_name(kinds)}")
            return MISSING
        if isinstance(value, int) and not isinstance(value, bool) and not -LARGEST <= value <= LARGEST:
            # no count, size or time is that large, and float() of 10**400 overflows wherever it is used
            errors.append(f"{path_str(path)}: {'<secret>' if self.secret else show(value)} is beyond 2**64")
            return MISSING
        if float in kinds and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if str in kinds and isinstance(value, (int, float)) and not isinstance(value, bool) and self.secret:
            value = str(value)
        right_kind = isinstance(value, kinds)  # not narrowing: value stays Any (a number or a string)
        if not right_kind:
            shown = "<secret>" if self.secret else show(value)
            errors.append(f"{path_str(path)}: {shown} is not {_kind_name(kinds)}")
            return MISSING
        if isinstance(value, float) and not math.isfinite(value):
            # YAML's .nan and .inf: no minimum refuses NaN, and either fails wherever it becomes a count
            errors.append(f"{path_str(path)}: {show(value)} is not a finite number")
            return MISSING
        if self.choices is not None and value not in self.choices:
            errors.append(f"{path_str(path)}: {show(value)} is not one of {', '.join(map(str, self.choices))}")
            return MISSING
        if self.minimum is not None and value < self.minimum:
            errors.append(f"{path_str(path)}: {show(value)} is below the minimum {_bound(self.minimum)}")
            return MISSING
        if self.maximum is not None and value > self.maximum:
            errors.append(f"{path_str(path)}: {show(value)} is above the maximum {_bound(self.maximum)}")
            return MISSING
        if self.extra is not None:
            problem = self.extra(value)
            if problem:
                errors.append(f"{path_str(path)}: {'<secret>' if self.secret else show(value)} {problem}")
                return MISSING
        return Secret(value) if self.secret else value


def _bound(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"  # 1000000, not 1e+06


def _kind_name(kinds: tuple[type, ...]) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


@dataclass(frozen=True)
class CommandSpec(Spec):
    def check(self, value: Any, path: tuple[str, ...], errors: list[str]) -> Any:
        if not isinstance(value, str):
            errors.append(f"{path_str(path)}: {show(value)} is not a command string")
            return MISSING
        try:
            return Command.parse(value)
        except CommandError as exc:
            errors.append(f"{path_str(path)}: {exc}")
            return MISSING


@dataclass(frozen=True)
class StrList(Spec):
    """A list of strings; a single string is accepted as a one-item list."""

    extra: Callable[[str], str | None] | None = None  # an error text for one item, or None

    def check(self, value: Any, path: tuple[str, ...], errors: list[str]) -> Any:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)):
            errors.append(f"{path_str(path)}: {show(value)} is not a list of strings")
            return MISSING
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                errors.append(f"{path_str(path + (str(i),))}: {show(item)} is not a string")
                continue
            problem = self.extra(str(item)) if self.extra is not None else None
            if problem:
                errors.append(f"{path_str(path + (str(i),))}: {show(item)} {problem}")
                continue
            out.append(str(item))
        return tuple(out)


@dataclass(frozen=True)
class SecretList(Spec):
    """A list of secrets (a single string is a one-item list); each is wrapped as a :class:`Secret` and
    never shown in an error, not even in part."""

    extra: Callable[[Any], str | None] | None = None  # an error text for one item, or None

    def check(self, value: Any, path: tuple[str, ...], errors: list[str]) -> Any:
        if isinstance(value, (str, int)) and not isinstance(value, bool):
            value = [value]
        if not isinstance(value, (list, tuple)):
            errors.append(f"{path_str(path)}: <secret> is not a list of strings")
            return MISSING
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, (str, int)) or isinstance(item, bool):
                errors.append(f"{path_str(path + (str(i),))}: <secret> is not a string")
                continue
            problem = self.extra(str(item)) if self.extra is not None else None
            if problem:
                errors.append(f"{path_str(path + (str(i),))}: <secret> {problem}")
                continue
            out.append(Secret(str(item)))
        return tuple(out)


@dataclass(frozen=True)
class Dict(Spec):
    """A mapping with known keys.  Unknown keys are errors (typos)."""

    fields: Mapping[str, Spec] = field(default_factory=dict)
    aliases: Mapping[str, str] = field(default_factory=dict)  # old name -> our name
    post: Callable[[dict[str, Any], tuple[str, ...], list[str]], None] | None = None  # cross-field checks

    def check(self, value: Any, path: tuple[str, ...], errors: list[str]) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            errors.append(f"{path_str(path)}: {show(value)} is not a mapping")
            return MISSING
        out: dict[str, Any] = {}
        seen: dict[str, Any] = {}
        for key, raw in value.items():
            name = self.aliases.get(key, key)
            if name not in self.fields:
                hint = _closest(str(key), self.fields)
                errors.append(
                    f"{path_str(path + (str(key),))}: unknown key"
                    + (f" (did you mean {hint!r}?)" if hint else f"; known keys: {', '.join(sorted(self.fields))}")
                )
                continue
            if name in seen:
                errors.append(f"{path_str(path + (str(key),))}: given twice (also as {seen[name]!r})")
                continue
            seen[name] = key
            out[name] = raw
        result: dict[str, Any] = {}
        for name, spec in self.fields.items():
            raw = out.get(name, MISSING)
            if raw is not MISSING and spec.nullable and (raw is None or raw == ""):
                raw = MISSING  # Dynamic Cluster's sample config ships empty optional keys: they mean "not set"
            if raw is MISSING:
                if spec.required:
                    errors.append(f"{path_str(path + (name,))}: required, but not set")
                    result[name] = MISSING
                    continue
                default = spec.default
                if isinstance(spec, (Dict, MapOf)) and default is MISSING:
                    # An absent section takes its defaults, unless it has keys
                    # that must be given: then it is simply not configured.
                    needs = isinstance(spec, Dict) and any(f.required for f in spec.fields.values())
                    result[name] = None if needs else spec.check({}, path + (name,), errors)
                    continue
                if default is not MISSING and not isinstance(spec, (Dict, MapOf)):
                    # defaults go through the same conversion as given values
                    result[name] = spec.check(default, path + (name,), errors) if default is not None else None
                else:
                    result[name] = None if default is MISSING else default
                continue
            result[name] = spec.check(raw, path + (name,), errors)
        if self.post is not None and all(v is not MISSING for v in result.values()):
            self.post(result, path, errors)
        return MappingProxyType(result)


@dataclass(frozen=True)
class Typed(Dict):
    """A Dict with a ``type`` key whose value picks the schema of its ``config`` key."""

    variants: Mapping[str, Dict] = field(default_factory=dict)

    def check(self, value: Any, path: tuple[str, ...], errors: list[str]) -> Any:
        if isinstance(value, Mapping) and value.get("type") in self.variants:
            spec = self.variants[value["type"]]
            fields = dict(self.fields)
            fields["config"] = Dict(doc=fields["config"].doc, fields=spec.fields, aliases=spec.aliases, post=spec.post)
            return Dict(doc=self.doc, fields=fields, aliases=self.aliases, post=self.post).check(value, path, errors)
        if isinstance(value, Mapping) and value.get("type") not in (None, "") and "config" in value:
            # the type error is reported by the type field; do not also flag every config key
            value = {k: v for k, v in value.items() if k != "config"}
        return super().check(value, path, errors)


@dataclass(frozen=True)
class MapOf(Spec):
    """A mapping of free names (resource names, plugin names) to one schema."""

    value: Spec = field(default_factory=Dict)
    key_check: Callable[[str], str | None] | None = None

    def check(self, value: Any, path: tuple[str, ...], errors: list[str]) -> Any:
        if value is None:
            value = {}
        if not isinstance(value, Mapping):
            errors.append(f"{path_str(path)}: {show(value)} is not a mapping")
            return MISSING
        result = {}
        for key, raw in value.items():
            key = str(key)
            if self.key_check is not None:
                problem = self.key_check(key)
                if problem:
                    errors.append(f"{path_str(path + (key,))}: name {problem}")
                    continue
            result[key] = self.value.check(raw, path + (key,), errors)
        return MappingProxyType(result)


def _closest(key: str, known: Mapping[str, Any]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key.replace("-", "_"), [k.replace("-", "_") for k in known], n=1, cutoff=0.75)
    if not match:
        return None
    for k in known:
        if k.replace("-", "_") == match[0]:
            return k
    return None


def check(data: Any, spec: Spec, path: tuple[str, ...]) -> Any:
    """Validate ``data`` against ``spec``; raise :class:`ConfigError` with all errors."""
    errors: list[str] = []
    value = spec.check(data, path, errors)
    if errors:
        raise ConfigError(errors)
    return value
