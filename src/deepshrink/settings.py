"""Settings declared once: a dataclass field made by :func:`setting` is a YAML key, a flag and a docs entry.

A settings class (:class:`~deepshrink.train.config.TrainConfig`) gives each field its type in
the annotation and everything else in one :func:`setting` call: default, allowed interval,
one line of help, group and how a flag reads it. What is derived from that, here:

* :func:`build`: the checked instance from a mapping (parsed YAML); every error is one line
  naming the key and where the value came from;
* :func:`add_flags` / :func:`flag_values` / :func:`apply_flags`: one ``argparse`` flag per
  setting, the values given, and how they go on top of a config file's;
* :func:`to_text`: the settings as YAML, with each group and help as comments on request;
* :func:`reference`: the Markdown of ``docs/config.md``.

Rules that tie several settings together stay with the class that declares them. The text
forms settings are written in live here too: :func:`load_yaml` / :func:`dump_yaml` (YAML 1.2
scalars, no duplicate keys, bounded aliases) and :func:`parse_key_values` (``KEY=VALUE``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import difflib
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Union

from deepshrink.errors import ConfigError

__all__ = [
    "Setting",
    "setting",
    "declared",
    "build",
    "unknown_key",
    "type_name",
    "add_flags",
    "flag_values",
    "apply_flags",
    "to_text",
    "reference",
    "load_yaml",
    "dump_yaml",
    "parse_key_values",
    "MAX_YAML_NODES",
]

_INTERVAL = re.compile(r"^([\[(])\s*([^,\s]+)\s*,\s*([^,\s]+)\s*([\])])$")


@dataclass(frozen=True, eq=False)
class Setting:
    """One declared setting (see :func:`setting`); ``name``, ``type`` and ``default`` come from its field."""

    help: str
    group: str
    interval: str | None = None
    check: Callable[[Any], str | None] | None = None
    flag: str | None = None
    metavar: str | None = None
    parse: Callable[[Any], Any] | None = None
    merge: bool = False
    implies: Mapping[str, Any] = field(default_factory=dict)
    runtime: bool = False
    name: str = ""
    type: Any = None
    default: Any = None

    @property
    def option(self) -> str:
        """The command-line flag, ``--batch-size`` for ``batch_size`` unless declared otherwise."""
        return self.flag or "--" + self.name.replace("_", "-")

    @property
    def choices(self) -> tuple[Any, ...] | None:
        """The allowed values of a ``Literal`` setting."""
        tp = _non_null(self.type)
        return typing.get_args(tp) if typing.get_origin(tp) is Literal else None

    @property
    def nullable(self) -> bool:
        return typing.get_origin(self.type) is Union and type(None) in typing.get_args(self.type)

    @property
    def allowed(self) -> str:
        """What a value must be, as error messages and the docs say it: ``an integer in [1, 4096] or null``."""
        if self.interval is None:
            return type_name(self.type)
        return f"{type_name(_non_null(self.type))} {_interval_text(self.interval)}" + (" or null" if self.nullable else "")

    def problem(self, value: Any) -> str | None:
        """Why a value of the right type is not allowed (``must be >= 1``), or None."""
        if self.interval is not None and value is not None and not _in_interval(value, self.interval):
            return f"must be {_interval_text(self.interval)}" + (" or null" if self.nullable else "")
        return self.check(value) if self.check is not None and value is not None else None


def setting(
    default: Any,
    help: str,
    *,
    group: str,
    interval: str | None = None,
    check: Callable[[Any], str | None] | None = None,
    flag: str | None = None,
    metavar: str | None = None,
    parse: Callable[[Any], Any] | None = None,
    merge: bool = False,
    implies: Mapping[str, Any] | None = None,
    runtime: bool = False,
) -> Any:
    """A dataclass field that declares one setting; its annotation is the type.

    Args:
        default: the value when not given (lists and mappings are copied for each instance).
        help: one line: what it does, for ``--help``, ``--print-config`` and the docs.
        group: heading it is listed under (``model``, ``data``, ...).
        interval: allowed numbers, ``"[0, 1)"``, ``"(0, inf)"``, ``"[1, 4096]"`` (each bound
            ``[`` / ``]`` inclusive, ``(`` / ``)`` exclusive); applied to numeric values.
        check: ``value -> None`` if fine, else what is wrong (``"must not be empty"``).
        flag: the command-line flag, default ``--`` + the name with dashes.
        metavar: the flag's value placeholder in ``--help``.
        parse: how a flag gives the value: the flag's text -> value (needed for a type the
            flag cannot read by itself); for a mapping setting, the mapping read from its
            repeated ``KEY=VALUE`` -> the value.
        merge: a mapping given by flags adds to the config file's mapping instead of replacing it.
        implies: other settings a flag of this one sets, unless flags give them too.
        runtime: changes how a run executes, not what it computes; a resumed run may change it.
    """
    if interval is not None and not _INTERVAL.match(interval):
        raise ValueError(f"interval {interval!r}: expected e.g. '[0, 1)', '(0, inf)' or '[1, 4096]'")
    declared_as = Setting(help=help, group=group, interval=interval, check=check, flag=flag, metavar=metavar,
                          parse=parse, merge=merge, implies=dict(implies or {}), runtime=runtime)  # fmt: skip
    meta = {"setting": declared_as}
    if isinstance(default, (list, dict)):
        return field(default_factory=functools.partial(copy.deepcopy, default), metadata=meta)
    return field(default=default, metadata=meta)


@functools.lru_cache(maxsize=None)
def declared(cls: type) -> Mapping[str, Setting]:
    """Every setting of a settings class, by name, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if "setting" not in f.metadata:
            raise TypeError(f"{cls.__name__}.{f.name} is not declared with setting()")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        s = dataclasses.replace(f.metadata["setting"], name=f.name, type=hints[f.name], default=default)
        if s.interval is not None and _non_null(s.type) not in (int, float):
            raise TypeError(f"{cls.__name__}.{f.name}: an interval needs an int or float setting")
        out[f.name] = s
    return types.MappingProxyType(out)


# ---------------------------------------------------------------------- checked values
def build(cls: type, values: Any, source: str) -> Any:
    """A ``cls`` from a mapping of its settings, each checked for type, interval and ``check``.

    Raises:
        ConfigError: not a mapping, an unknown key, or a wrong value; the message names the
            key and ``source``.
    """
    if not isinstance(values, dict):
        raise ConfigError(f"{source}: expected a mapping of key: value, got {type(values).__name__}")
    settings = declared(cls)
    checked: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str) or key not in settings:
            raise unknown_key(cls, str(key), source)
        try:
            checked[key] = _coerce(value, settings[key].type)
        except TypeError:
            raise ConfigError(
                f"{source}: key {key!r} must be {type_name(settings[key].type)}, got {type(value).__name__} {value!r}"
            ) from None
    obj = cls(**checked)
    for name, s in settings.items():
        problem = s.problem(getattr(obj, name))
        if problem is not None:
            raise ConfigError(f"{source}: key {name!r} {problem}, got {getattr(obj, name)!r}")
    return obj


def unknown_key(cls: type, key: str, where: str) -> ConfigError:
    """The error for a key ``cls`` does not have, with the closest ones as suggestions."""
    close = difflib.get_close_matches(key, list(declared(cls)), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}{hint}")


_NAMES = {int: "an integer", float: "a number", str: "a string", bool: "true or false"}
_PLURALS = {int: "integers", float: "numbers", str: "strings", bool: "booleans"}


def type_name(tp: Any) -> str:
    """``Union[float, None]`` -> ``a number or null``: how messages and the docs name a type."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin is Union:
        names = [type_name(a) for a in typing.get_args(tp)]
        return ", ".join(names[:-1]) + " or " + names[-1]
    if origin is list:
        (item,) = typing.get_args(tp)
        return "a list of " + _PLURALS.get(item, type_name(item))
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    return _NAMES.get(tp, str(tp))


def _non_null(tp: Any) -> Any:
    if typing.get_origin(tp) is Union:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return args[0] if len(args) == 1 else Union[tuple(args)]
    return tp


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` checked against ``tp`` (ints accepted for floats, bools only for bools); raises TypeError."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin is Literal:
        if isinstance(value, str) and value in typing.get_args(tp):
            return value
        raise TypeError
    if origin is Union:
        for arg in typing.get_args(tp):
            try:
                return _coerce(value, arg)
            except TypeError:
                continue
        raise TypeError
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise TypeError
        (item,) = typing.get_args(tp)
        return [_coerce(v, item) for v in value]
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise TypeError
        return dict(value)
    if tp is type(None) and value is None:
        return None
    if tp is bool and isinstance(value, bool):
        return value
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, str):
        return value
    raise TypeError


def _in_interval(value: Any, interval: str) -> bool:
    low_bracket, low, high, high_bracket = _INTERVAL.match(interval).groups()  # type: ignore[union-attr]
    above = value > float(low) or (low_bracket == "[" and value == float(low))
    below = value < float(high) or (high_bracket == "]" and value == float(high))
    return above and below  # NaN is neither, so it is refused too; so is inf, unless the bound is ']'


def _interval_text(interval: str) -> str:
    low_bracket, low, high, high_bracket = _INTERVAL.match(interval).groups()  # type: ignore[union-attr]
    if high == "inf":
        return (">= " if low_bracket == "[" else "> ") + low
    return f"in {low_bracket}{low}, {high}{high_bracket}"


# ---------------------------------------------------------------------- flags
def add_flags(parser: argparse.ArgumentParser, cls: type) -> None:
    """One flag per setting of ``cls``, in an argument group per setting group; a flag not given is None."""
    groups: dict[str, Any] = {}
    for s in declared(cls).values():
        if s.group not in groups:
            groups[s.group] = parser.add_argument_group(s.group)
        groups[s.group].add_argument(s.option, dest=s.name, default=None, help=_flag_help(s), **_flag_kind(s))


def _flag_kind(s: Setting) -> dict[str, Any]:
    tp = _non_null(s.type)
    origin = typing.get_origin(tp)
    metavar = {"metavar": s.metavar} if s.metavar else {}
    if origin is dict:
        return {"action": "append", "metavar": s.metavar or "KEY=VALUE"}
    if s.parse is not None:
        return {"type": s.parse, **metavar}
    if origin is Literal:
        return {"choices": typing.get_args(tp)}
    if tp is bool:
        return {"action": argparse.BooleanOptionalAction}
    if origin is list and typing.get_args(tp)[0] in (int, float, str):
        return {"nargs": "+", "type": typing.get_args(tp)[0], **metavar}
    if tp in (int, float, str):
        return {"type": tp, **metavar}
    raise TypeError(f"setting {s.name!r} of type {tp}: declare parse= to read it from a flag")


def _flag_help(s: Setting) -> str:
    text = s.help
    if typing.get_origin(_non_null(s.type)) is dict:
        text += "; repeatable"
    if s.default not in (None, {}, []):
        text += f" (default {_value_text(s.default)})"
    return text.replace("%", "%%")


def flag_values(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The settings given as flags made by :func:`add_flags`, as values (a mapping: its ``KEY=VALUE`` read)."""
    out: dict[str, Any] = {}
    for name, s in declared(cls).items():
        value = getattr(args, name, None)
        if value is None:
            continue
        if typing.get_origin(_non_null(s.type)) is dict:
            value = parse_key_values(value, s.option)
            if s.parse is not None:
                value = s.parse(value)
        out[name] = value
    return out


def apply_flags(cls: type, values: Mapping[str, Any], flags: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (a config file's) with ``flags`` on top: ``merge`` mappings add keys, ``implies`` fills the rest."""
    settings = declared(cls)
    out = dict(values)
    for name, value in flags.items():
        s = settings[name]
        out[name] = {**out.get(name, {}), **value} if s.merge else value
        out.update({key: implied for key, implied in s.implies.items() if key not in flags})
    return out


# ---------------------------------------------------------------------- text and docs
def _value_text(value: Any) -> str:
    """A value as it reads in YAML flow style: ``null``, ``true``, ``[0.4, 0.8]``, ``{}``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_value_text(v)}" for k, v in value.items()) + "}"
    return str(value)


def to_text(cls: type, values: Mapping[str, Any], *, comments: bool = False) -> str:
    """The plain ``values`` of a ``cls`` as YAML, in declaration order; ``comments``: group headings and help."""
    if not comments:
        return dump_yaml(dict(values))
    lines: list[str] = []
    group = None
    for name, s in declared(cls).items():
        if s.group != group:
            lines += ([""] if group is not None else []) + [f"# {s.group}"]
            group = s.group
        value = values[name]  # a mapping of one scalar would come out in flow style: {epochs: 100}
        chunk = dump_yaml({name: value}, default_flow_style=None if isinstance(value, (list, dict)) else False).rstrip("\n")
        lines += [f"{chunk}  # {s.help}"] if "\n" not in chunk else [f"# {s.help}", chunk]
    return "\n".join(lines) + "\n"


def reference(cls: type, title: str, command: str) -> str:
    """Markdown: ``title``, ``cls``'s docstring, then a table of the settings of each group.

    Args:
        command: how the file is regenerated, written in its first line.
    """
    doc = inspect.cleandoc(cls.__doc__ or "").replace("``", "`")
    out = [f"<!-- generated from {cls.__qualname__}'s settings by `{command}`; do not edit -->", "", f"# {title}", "", doc]
    groups: dict[str, list[Setting]] = {}
    for s in declared(cls).values():
        groups.setdefault(s.group, []).append(s)
    for group, settings in groups.items():
        out += ["", f"## {group}", "", "| key | flag | value | default | what |", "|---|---|---|---|---|"]
        for s in settings:
            cells = [f"`{s.name}`", _flag_text(s), s.allowed, f"`{_value_text(s.default)}`", s.help]
            out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
        runtime = [f"`{s.name}`" for s in settings if s.runtime]
        if runtime:
            out += ["", f"May change when a run is resumed (they do not change what it computes): {', '.join(runtime)}."]
    return "\n".join(out) + "\n"


def _flag_text(s: Setting) -> str:
    kind = _flag_kind(s)
    if kind.get("action") is argparse.BooleanOptionalAction:
        return f"`{s.option}`, `--no-{s.option[2:]}`"
    if kind.get("action") == "append":
        return f"`{s.option} {kind['metavar']}` (repeatable)"
    if "choices" in kind:
        return f"`{s.option}`"
    metavar = kind.get("metavar") or s.name.upper()
    return f"`{s.option} {metavar}{f' [{metavar} ...]' if kind.get('nargs') == '+' else ''}`"


# ---------------------------------------------------------------------- YAML and KEY=VALUE
MAX_YAML_NODES = 100_000
"""Largest YAML document (nodes, with aliases expanded) :func:`load_yaml` reads: a config or
study file has a few hundred; a "billion laughs" of nested aliases is refused before it grows."""

# The YAML 1.2 core schema's plain scalars (what a reader of the file expects), instead of
# PyYAML's YAML 1.1 ones: no sexagesimal numbers (1.1 reads `snr: 5:10` as 310 and `-5:5` as
# -305), no octal `010`, no yes/no/on/off booleans, no dates; and floats without a dot (1e-3,
# which 1.1 leaves a string). (tag, regexp, first characters), in the order they are tried.
_CORE_SCALARS: list[tuple[str, str, list[str]]] = [
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^[-+]?(?:0|[1-9][0-9_]*)$|^0x[0-9a-fA-F_]+$|^0o[0-7_]+$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)?$"
        r"|^[-+]?[0-9][0-9_]*[eE][-+]?[0-9]+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$",
        list("-+0123456789."),
    ),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", ["<"]),
]


@functools.lru_cache(maxsize=None)
def _strict_loader() -> type:
    """A SafeLoader with the YAML 1.2 core scalars that refuses duplicate keys and oversized aliases."""
    import yaml

    class StrictLoader(yaml.SafeLoader):
        yaml_implicit_resolvers: dict = {}

        def compose_document(self):  # type: ignore[no-untyped-def]
            node = super().compose_document()
            _check_yaml_size(node)
            return node

        def construct_mapping(self, node, deep=False):  # type: ignore[no-untyped-def]
            if isinstance(node, yaml.MappingNode):
                seen: dict[Any, int] = {}
                for key_node, _ in node.value:
                    if key_node.tag == "tag:yaml.org,2002:merge":
                        continue
                    key = self.construct_object(key_node, deep=True)
                    try:
                        hash(key)
                    except TypeError:
                        continue  # the base class reports unhashable keys
                    if key in seen:
                        raise yaml.constructor.ConstructorError(
                            None, None,
                            f"duplicate key {key!r} (first on line {seen[key] + 1}; only one may be given)",
                            key_node.start_mark,
                        )  # fmt: skip
                    seen[key] = key_node.start_mark.line
            return super().construct_mapping(node, deep=deep)

        def construct_yaml_int(self, node):  # type: ignore[no-untyped-def]
            value = self.construct_scalar(node).replace("_", "")
            if value.startswith("0o"):
                return int(value[2:], 8)
            return int(value, 16) if value.startswith("0x") else int(value)

    StrictLoader.add_constructor("tag:yaml.org,2002:int", StrictLoader.construct_yaml_int)
    for tag, regexp, first in _CORE_SCALARS:
        StrictLoader.add_implicit_resolver(tag, re.compile(regexp), first)
    return StrictLoader


def _check_yaml_size(node: Any) -> None:
    """Refuse recursive aliases and documents that expand to more than MAX_YAML_NODES nodes."""
    import yaml

    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(n: Any) -> int:
        key = id(n)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise yaml.composer.ComposerError(None, None, "recursive alias (an anchor used inside itself)", n.start_mark)
        active.add(key)
        total = 1
        if isinstance(n, yaml.SequenceNode):
            for child in n.value:
                total += size(child)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                total += size(k) + size(v)
                if total > MAX_YAML_NODES:
                    break
        active.discard(key)
        if total > MAX_YAML_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"the document expands to more than {MAX_YAML_NODES:,} values (aliases nested too deep)", n.start_mark
            )  # fmt: skip
        sizes[key] = total
        return total

    if node is not None:
        size(node)


def load_yaml(text: str, source: str = "YAML") -> Any:
    """Parse YAML text safely: no Python objects, no duplicate keys, bounded aliases, YAML 1.2 scalars.

    Plain scalars follow the YAML 1.2 core schema: ``1e-3`` is a float, ``5:10`` and ``-5:5``
    stay strings (SNR ranges, not the base-60 integers 310 and -305 of YAML 1.1), ``yes``/``no``
    and dates stay strings, ``true``/``false`` are booleans.

    Args:
        text: the document.
        source: what it is (a file name, ``--set``), for the message.

    Raises:
        ConfigError: not valid YAML, a duplicate key, a recursive alias or a document that
            expands beyond :data:`MAX_YAML_NODES`; the message names ``source`` and the line.
    """
    import yaml

    try:
        return yaml.load(text, Loader=_strict_loader())  # noqa: S506  # a SafeLoader subclass
    except yaml.YAMLError as err:
        raise ConfigError(f"{source}: not valid YAML ({_yaml_error_line(err)})") from None
    except RecursionError:
        raise ConfigError(f"{source}: not valid YAML (nested too deeply)") from None


def _yaml_error_line(err: Exception) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark is not None else problem


@functools.lru_cache(maxsize=None)
def _strict_dumper() -> type:
    """A SafeDumper that quotes every string :func:`load_yaml` would read as something else ('1e-3')."""
    import yaml

    class StrictDumper(yaml.SafeDumper):
        pass

    for tag, regexp, first in _CORE_SCALARS:  # quote what either schema would read as no string
        StrictDumper.add_implicit_resolver(tag, re.compile(regexp), first)
    return StrictDumper


def dump_yaml(values: Any, **kwargs: Any) -> str:
    """``values`` as YAML that :func:`load_yaml` reads back unchanged (keys in the given order)."""
    import yaml

    kwargs.setdefault("sort_keys", False)
    kwargs.setdefault("default_flow_style", None)
    return yaml.dump(values, Dumper=_strict_dumper(), **kwargs)


def parse_key_values(items: list[str] | None, where: str) -> dict[str, Any]:
    """``["a=1", "b=[2, 3]"]`` -> ``{"a": 1, "b": [2, 3]}``; values are parsed as YAML.

    A value that is not valid YAML stays text (``name=a:b: c``); a key given twice takes the
    last value, as repeated command-line flags do.
    """
    out: dict[str, Any] = {}
    if items is not None and (isinstance(items, str) or not isinstance(items, (list, tuple))):
        raise ConfigError(f"{where}: expected a list of KEY=VALUE strings, got {type(items).__name__} {items!r:.60}")
    for item in items or []:
        if not isinstance(item, str):
            raise ConfigError(f"{where}: expected KEY=VALUE, got {type(item).__name__} {item!r:.60}")
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"{where}: expected KEY=VALUE, got {item!r}")
        try:
            out[key] = load_yaml(text, f"{where} {key}") if text.strip() else None
        except ConfigError as err:
            if "duplicate key" in str(err) or "expands to more" in str(err) or "recursive alias" in str(err):
                raise
            out[key] = text
    return out
