"""One registration per expression kind: its model class, its kind name and its readable renderer.

:func:`atom_kind` (a class decorator in :mod:`trialmatch.criteria.model`) registers a model class under
its ``kind`` with the function that describes it. The registry feeds the model's discriminated union
(``model.Expression``, ``model.Atom``, ``model.ATOM_KINDS``) and :func:`describe` (``criteria.render``),
so a new kind is declared once. :func:`atom_kinds` gives the registered atom classes (boolean nodes
apart), for a matcher to build its own evaluator dispatch from.

The formatting helpers (:func:`fmt_num`, :func:`fmt_range`, :func:`fmt_dur`, :func:`class_label`) are the
renderers' shared pieces.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["KindInfo", "atom_kind", "atom_kinds", "node_kinds", "kind_info", "describe", "fmt_num", "fmt_range",
           "fmt_dur", "class_label", "CMP_SYMBOL"]


class KindInfo:
    """A registered kind: ``name``, model class ``cls``, ``describe(node) -> str``, ``boolean`` (a node that
    combines others: all_of, any_of, not, except, if_then)."""

    __slots__ = ("name", "cls", "describe", "boolean")

    def __init__(self, name: str, cls: type, describe: Callable, boolean: bool):
        self.name, self.cls, self.describe, self.boolean = name, cls, describe, boolean

    def __repr__(self) -> str:
        return f"KindInfo({self.name!r}, {self.cls.__name__}, boolean={self.boolean})"


_KINDS: dict[str, KindInfo] = {}


def atom_kind(describe: Callable, *, boolean: bool = False):
    """Class decorator: register a model class (its ``kind`` field's default is the kind name) with its
    renderer ``describe(node) -> str``. Raises ``ValueError`` for a class without a ``kind`` default or a
    kind registered twice."""
    def register(cls: type) -> type:
        field = getattr(cls, "model_fields", {}).get("kind")
        name = getattr(field, "default", None)
        if not isinstance(name, str) or not name:
            raise ValueError(f"{cls.__name__}: an expression class needs a 'kind' field with a default")
        if name in _KINDS and _KINDS[name].cls is not cls:
            raise ValueError(f"kind {name!r} registered twice ({_KINDS[name].cls.__name__}, {cls.__name__})")
        _KINDS[name] = KindInfo(name, cls, describe, boolean)
        return cls
    return register


def atom_kinds() -> tuple[type, ...]:
    """The registered atom classes (not the boolean nodes), in registration order."""
    return tuple(k.cls for k in _KINDS.values() if not k.boolean)


def node_kinds() -> tuple[type, ...]:
    """Every registered expression class: the atoms, then the boolean nodes."""
    return atom_kinds() + tuple(k.cls for k in _KINDS.values() if k.boolean)


def kind_info(name: str) -> KindInfo:
    """The registration of kind ``name`` (``KeyError`` naming the registered kinds when there is none)."""
    try:
        return _KINDS[name]
    except KeyError:
        raise KeyError(f"no expression kind {name!r}; registered: {sorted(_KINDS)}") from None


def describe(expr) -> str:
    """Render an expression (atom or boolean node) as one readable line."""
    if expr is None:
        return "(introduces sub-criteria)"
    info = _KINDS.get(getattr(expr, "kind", None))
    return info.describe(expr) if info is not None else str(expr)


# ----------------------------------------------------------------------------- formatting helpers
CMP_SYMBOL = {">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=", "between": "between"}


def fmt_num(x: float | None) -> str:
    if x is None:
        return "?"
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def fmt_range(r, unit: str = "") -> str:
    u = f" {unit}" if unit else ""
    if r.low is not None and r.high is not None:
        if r.low == r.high:
            return f"= {fmt_num(r.low)}{u}"
        return f"{fmt_num(r.low)}–{fmt_num(r.high)}{u}"
    if r.low is not None:
        return f"{'≥' if r.low_inclusive else '>'} {fmt_num(r.low)}{u}"
    if r.high is not None:
        return f"{'≤' if r.high_inclusive else '<'} {fmt_num(r.high)}{u}"
    return "any"


def fmt_dur(d) -> str:
    if d is None:
        return ""
    return f"{fmt_num(d.value)} {d.unit}{'s' if d.value != 1 else ''}"


def class_label(key: str) -> str:
    from trialmatch.vocab import class_vocabulary

    entry = class_vocabulary().get(key)
    return entry["label"] if entry else key.replace("_", " ")


def paren(e) -> str:
    s = describe(e)
    return f"({s})" if getattr(e, "kind", None) in ("all_of", "any_of", "except", "if_then") else s
