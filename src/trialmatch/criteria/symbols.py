"""Comparison operators written in the Symbol font or as mojibake, read as the operator they stand for.

Criteria copied from Word documents keep the Symbol-font code points of the operators ('LVEF ³50%' is
'LVEF ≥50%', '£ 1.5 x ULN' is '≤ 1.5 x ULN'), and UTF-8 read as Latin-1 turns '≥' into 'Â³' or 'â‰¥'. The
table is data (``cues.symbol_operators`` of ``extractors/data/common.json``); a sign is replaced only where
it stands right before a number and not inside a unit ('mm³', '10³/µL' are kept).
"""

from __future__ import annotations

import re

from trialmatch.criteria.extractors.registry import family_data

__all__ = ["normalise_operators"]

_TABLE: dict[str, str] = dict(family_data("common").cues["symbol_operators"])
for _sign, _op in _TABLE.items():
    if not _sign or _op not in ("≥", "≤"):
        raise ValueError(f"common.json: cues.symbol_operators: {_sign!r} -> {_op!r}; the operators allowed: ['≥', '≤']")
_LAST_CHARS = frozenset(s[-1] for s in _TABLE)
_SIGN = re.compile(r"(?<![\w/^³])(" + "|".join(re.escape(s) for s in sorted(_TABLE, key=len, reverse=True)) + r")(?=\s*\d)")


def normalise_operators(text: str) -> str:
    """``text`` with each Symbol-font or mojibake operator before a number replaced by ≥ or ≤.

    Parameters
    ----------
    text : str
        A criterion's text.

    Returns
    -------
    str
        The text, unchanged when it holds none of the signs.
    """
    for ch in text:
        if ch in _LAST_CHARS:
            return _SIGN.sub(lambda m: _TABLE[m.group(1)], text)
    return text
