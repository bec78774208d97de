"""Command-line flags generated from a commented `@dataclass Config`.

Each field becomes `--field-name`; its help text is the comment on its line (or the comment
lines just above it). Types come from the annotations: int, float, str, bool (`--x/--no-x`),
Literal[...] (choices), Optional[T], and tuple/list of int/float/str (space-separated values).
A wrong type or an unknown flag raises ConfigError with one line, never argparse's usage dump.

Every numeric field states its valid values at the end of its comment, where it is declared:

    hidden: int = 256        # units per hidden layer; range [1, 65536]
    lr: float = 0.1          # peak learning rate; range (0, 10]
    sizes: tuple[int, ...] = (100,)  # hidden widths; range [1, 65536], 1 to 8 values

`range` takes an interval ([ ] closed, ( ) open, `inf` for no bound); for a tuple it holds for
each value, and `N to M values` bounds its length (tuples of strings state only that). An
Optional field also takes None. `check_fields` enforces all of it (and Literal choices), so the
CLI refuses a bad value in one line naming the flag before anything runs; tests/test_config.py
walks every Config and fails on a numeric field without a range.
"""

import argparse
import dataclasses
import difflib
import functools
import inspect
import io
import math
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


_NUMBER = r"-?(?:inf|\d+(?:\.\d*)?(?:e-?\d+)?)"
_RANGE = re.compile(rf"\brange ([\[(])\s*({_NUMBER})\s*,\s*({_NUMBER})\s*([\])])")
_COUNT = re.compile(r"\b(\d+) to (\d+) values\b")


@dataclasses.dataclass(frozen=True)
class Bounds:
    """A field's declared valid values: an interval (for each value of a tuple) and a tuple length."""

    lo: float = -math.inf
    hi: float = math.inf
    lo_open: bool = False
    hi_open: bool = False
    count: tuple | None = None  # (min, max) number of values of a tuple field
    declared: bool = False  # the comment states a range

    def holds(self, v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v:  # NaN fails
            return False
        above = v > self.lo if self.lo_open else v >= self.lo
        below = v < self.hi if self.hi_open else v <= self.hi
        return above and below

    def interval(self):
        def num(x):
            if math.isinf(x):
                return "-inf" if x < 0 else "inf"
            return str(int(x)) if x.is_integer() and abs(x) < 1e13 else f"{x:g}"

        return f"{'(' if self.lo_open else '['}{num(self.lo)}, {num(self.hi)}{')' if self.hi_open else ']'}"


def parse_bounds(doc):
    """The Bounds a field's comment declares (see the module docstring)."""
    r, c = _RANGE.search(doc or ""), _COUNT.search(doc or "")
    b = Bounds(count=(int(c.group(1)), int(c.group(2))) if c else None)
    if r:
        b = dataclasses.replace(b, lo=float(r.group(2)), hi=float(r.group(3)), lo_open=r.group(1) == "(",
                                hi_open=r.group(4) == ")", declared=True)
    return b


@functools.lru_cache(maxsize=None)
def field_bounds(cls):
    """Field name -> Bounds, read from the comments of dataclass `cls`."""
    docs = field_docs(cls)
    return {f.name: parse_bounds(docs.get(f.name, "")) for f in dataclasses.fields(cls)}


def check_fields(cfg, what=None):
    """Refuse, in one line naming the flag, any field of `cfg` outside its type, choices or declared range."""
    cls = type(cfg)
    hints = typing.get_type_hints(cls)
    bounds = field_bounds(cls)
    where = f"{what}: " if what else ""
    for f in dataclasses.fields(cfg):
        v = getattr(cfg, f.name)
        tp, optional = _unwrap_optional(hints[f.name])
        flag = _flag(f.name)
        if v is None:
            if optional:
                continue
            raise ConfigError(f"{where}{flag} needs a value")
        b = bounds[f.name]
        origin = typing.get_origin(tp)
        if origin is typing.Literal:
            if v not in typing.get_args(tp):
                raise ConfigError(f"{where}{flag} takes one of {', '.join(map(str, typing.get_args(tp)))}, got {v!r}")
        elif tp is bool:
            if not isinstance(v, bool):
                raise ConfigError(f"{where}{flag} is on or off (true/false), got {v!r}")
        elif origin in (tuple, list):
            if not isinstance(v, (tuple, list)):
                raise ConfigError(f"{where}{flag} takes a list of values, got {v!r}")
            items = [a for a in typing.get_args(tp) if a is not Ellipsis] or [str]
            lo, hi = b.count or (0, math.inf)
            if not lo <= len(v) <= hi:
                raise ConfigError(f"{where}{flag} takes {lo} to {hi} values, got {len(v)}")
            if items[0] in (int, float) and not all(b.holds(x) and _is_type(x, items[0]) for x in v):
                raise ConfigError(f"{where}{flag} takes values in {b.interval()}, got {' '.join(map(str, v))}")
        elif tp in (int, float):
            if not (_is_type(v, tp) and b.holds(v)):
                raise ConfigError(f"{where}{flag} takes {'a whole number' if tp is int else 'a number'} in "
                                  f"{b.interval()}, got {v}")
    return cfg


def bounded(tp, declared):
    """An argparse `type` for the CLI's own flags: `tp` in the range `declared` ("[1, 1000]", "(0, 100]")."""
    b = parse_bounds(f"range {declared}")

    def parse(text):
        try:
            v = tp(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if tp is int else 'a number'}") from None
        if not b.holds(v):
            raise argparse.ArgumentTypeError(f"{text} is outside {b.interval()}")
        return v

    parse.__name__ = tp.__name__
    return parse


def _is_type(v, tp):
    if isinstance(v, bool):
        return False
    return isinstance(v, int) if tp is int else isinstance(v, (int, float))


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
    cfg = check_fields(cls(**values))
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
    return check_fields(cls(**values), what)

