"""Progress bars for long work, on stderr and only on a terminal (logs stay clean)."""

from __future__ import annotations

import sys
from typing import Iterable, Iterator, TypeVar

T = TypeVar("T")


def progress_bar(items: Iterable[T], *, total: int | None = None, desc: str = "",
                 unit: str = "letter", enabled: bool = True):
    """A tqdm bar when ``enabled`` and stderr is a terminal; otherwise the items unchanged."""
    if not shown(enabled):
        return _Silent(items)
    from tqdm import tqdm

    return tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)


def shown(enabled: bool = True) -> bool:
    """Whether a bar would be drawn (for work done only to draw one)."""
    return enabled and sys.stderr.isatty()


class _Silent:
    """The part of tqdm's interface the stages use, doing nothing."""

    def __init__(self, items: Iterable[T]):
        self.items = items

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def set_postfix(self, *args, **kwargs) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        pass
