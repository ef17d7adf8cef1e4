"""Fuzzy matching of completion candidates: prefix first, then substring, then scattered letters."""

from __future__ import annotations

import re
from collections.abc import Sequence


def match_key(word: str, candidate: str,
              scattered: bool = True) -> tuple[int, int, int] | None:
    """How well ``candidate`` matches ``word`` (smaller is better), or None if it does not.

    Case-insensitive. A prefix match beats a substring match, which beats the
    letters of ``word`` appearing in order (``rlim`` finds ``rate_limit``); among
    those, the tighter and earlier match wins.
    """
    needle, hay = word.lower(), candidate.lower()
    if not needle:
        return (0, 0, 0)
    if hay.startswith(needle):
        return (0, 0, len(hay))
    position = hay.find(needle)
    if position >= 0:
        return (1, position, len(hay))
    if not scattered:
        return None
    # Lookahead so overlapping matches are all found; the shortest span is kept.
    pattern = re.compile("(?=(" + ".*?".join(map(re.escape, needle)) + "))")
    spans = [(len(found.group(1)), found.start()) for found in pattern.finditer(hay)]
    if not spans:
        return None
    length, start = min(spans)
    return (2, length, start)


def fuzzy_filter(word: str, candidates: Sequence[str], scattered: bool = True) -> list[str]:
    """The candidates that match ``word``, best first; ties keep the candidates' order.

    Without ``scattered``, only prefix and substring matches count.
    """
    ranked = []
    for index, candidate in enumerate(candidates):
        key = match_key(word, candidate, scattered)
        if key is not None:
            ranked.append((key, index, candidate))
    ranked.sort()
    return [candidate for _, _, candidate in ranked]
