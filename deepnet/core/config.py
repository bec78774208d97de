"""Command-line flags generated from a commented `@dataclass Config`.

Each field becomes `--field-name`; its help text is the comment on its line (or the comment
lines just above it). Types come from the annotations: int, float, str, bool (`--x/--no-x`),
Literal[...] (choices), Optional[T], and tuple/list of int/float/str (space-separated values).
A wrong type or an unknown flag raises ConfigError with one line, never argparse's usage dump.
"""

import argparse
import dataclasses
import difflib
import inspect
import io
import re
import tokenize
import types
import typing

from deepnet.errors import ConfigError


class ArgumentParser(argparse.ArgumentParser):
    """argparse that raises ConfigError instead of printing usage and calling sys.exit(2).

    Abbreviated flags are refused: `--epoch 3` silently meaning `--epochs 3` hides typos.
    """

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        m = re.match(r"unrecognized arguments: (.*)", message)
        if m:
            known = [s for a in self._actions for s in a.option_strings]
            hints = []
            for flag in m.group(1).split():
                if flag.startswith("-"):
                    close = difflib.get_close_matches(flag.split("=")[0], known, n=1)
                    if close:
                        hints.append(f"did you mean {close[0]}?")
            hint = (" " + " ".join(hints)) if hints else ""
            raise ConfigError(f"{self.prog}: unknown argument(s) {m.group(1)}{hint} (see {self.prog} --help)")
        raise ConfigError(f"{self.prog}: {message} (see {self.prog} --help)")


def field_docs(cls):
    """Map field name -> help text, read from the comments in the class's source."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    docs, pending = {}, []
    comments = {}  # line number -> comment text
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type == tokenize.COMMENT:
                comments[tok.start[0]] = tok.string.lstrip("#").strip()
    except tokenize.TokenError:
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    for lineno, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        m = re.match(r"(\w+)\s*:", stripped)
        if m and m.group(1) in names:
            docs[m.group(1)] = comments.get(lineno) or " ".join(pending)
            pending = []
        elif stripped.startswith("#"):
            pending.append(comments.get(lineno, ""))
        else:
            pending = []
    return docs


def _flag(name):
    return "--" + name.replace("_", "-")


def _unwrap_optional(tp):
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _none_or(convert):
    def parse(text):
        return None if text.lower() == "none" else convert(text)

    parse.__name__ = getattr(convert, "__name__", "value")
    return parse


def add_config_args(parser, cls, defaults=None):
    """Add one flag per field of dataclass `cls` to `parser` (defaults from `defaults` if given)."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    group = parser.add_argument_group(cls.__qualname__, (cls.__doc__ or "").strip().split("\n")[0])
    for f in dataclasses.fields(cls):
        if f.name.startswith("_"):
            continue
        if defaults is not None:
            default = getattr(defaults, f.name)
        elif f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = None
        tp, optional = _unwrap_optional(hints[f.name])
        help_text = docs.get(f.name, "") + f" (default: {default})"
        kw = dict(dest=f.name, default=default, help=help_text.replace("%", "%%"))
        origin = typing.get_origin(tp)
        if tp is bool:
            group.add_argument(_flag(f.name), action=argparse.BooleanOptionalAction, **kw)
            continue
        if origin is typing.Literal:
            choices = list(typing.get_args(tp))
            group.add_argument(_flag(f.name), choices=choices, type=type(choices[0]), **kw)
            continue
        if origin in (tuple, list):
            args = [a for a in typing.get_args(tp) if a is not Ellipsis] or [str]
            group.add_argument(_flag(f.name), nargs="*", type=args[0], metavar=args[0].__name__.upper(), **kw)
            continue
        if tp not in (int, float, str):
            raise TypeError(f"{cls.__name__}.{f.name}: unsupported config type {tp}")
        convert = _none_or(tp) if optional else tp
        group.add_argument(_flag(f.name), type=convert, metavar=tp.__name__.upper(), **kw)
    return parser


def config_from_args(cls, namespace):
    """Build a `cls` instance from the parsed namespace (fields absent from it keep their defaults)."""
    values = {}
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if hasattr(namespace, f.name):
            v = getattr(namespace, f.name)
            tp, _ = _unwrap_optional(hints[f.name])
            if typing.get_origin(tp) is tuple and isinstance(v, list):
                v = tuple(v)
            values[f.name] = v
    cfg = cls(**values)
    check = getattr(cfg, "check", None)
    if check is not None:
        check()
    return cfg


def config_from_dict(cls, data, what="config"):
    """Rebuild a dataclass from a plain dict (e.g. config.json), refusing unknown keys."""
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{what}: unknown key(s) {', '.join(unknown)} for {cls.__name__}")
    hints = typing.get_type_hints(cls)
    values = {}
    for k, v in data.items():
        tp, _ = _unwrap_optional(hints[k])
        if typing.get_origin(tp) is tuple and isinstance(v, list):
            v = tuple(v)
        values[k] = v
    return cls(**values)

