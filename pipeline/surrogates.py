"""Half of a character: a lone surrogate, which JSON and YAML may escape ("\\ud800").

Text decoded from UTF-8 never holds one; an escape does, and it is no character and
no UTF-8, so spaCy and every output would fail on it, with a traceback, far from the
file and line it came from. Readers refuse it where they read it.

A name or a value from the system is another source: Linux file names and
command-line arguments are bytes, and one that is not UTF-8 reaches Python as half
of a character. ``printable`` gives it as text any output can hold.
"""

from __future__ import annotations

import json
import os
import re

HALF_A_CHARACTER = "half of a character (a lone surrogate, e.g. \\ud800)"
WHOLE_CHARACTER = "remove it, or write the whole character"
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")


def has_lone_surrogate(value, json_text: str | None = None) -> bool:
    """Whether ``value`` (text, or what JSON gives) holds half of a character.
    ``json_text``: the JSON ``value`` was read from; without a '\\u' escape in it there
    is none, and ``value`` is not looked through (the common case, read fast)."""
    if json_text is not None and "\\u" not in json_text:
        return False
    return bool(_LONE_SURROGATE.search(value if isinstance(value, str)
                                       else json.dumps(value, ensure_ascii=False)))


def printable(text: str | os.PathLike) -> str:
    """``text`` (a path, a value typed on the command line) as text any output can hold.
    A byte that is not UTF-8 reaches Python as half of a character ('\\udcff'), which no
    UTF-8 file can hold: it is shown as the byte ('\\xff'), as a terminal would."""
    text = os.fspath(text)
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:   # half of a character that no byte gave ('\\ud800')
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
