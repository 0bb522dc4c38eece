"""The theme taxonomy (labels/themes.yaml), loaded and checked.

Everything else asks the taxonomy for the theme list, so adding or removing a
theme in the YAML file is picked up by rules, model, evaluation and summaries.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import LabelsError
from .surrogates import HALF_A_CHARACTER, WHOLE_CHARACTER, has_lone_surrogate

DEFAULT_THEMES = Path("labels/themes.yaml")
_ID = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Theme:
    id: str
    name: str
    definition: str


@dataclass(frozen=True)
class Taxonomy:
    themes: tuple[Theme, ...]
    path: str

    @functools.cached_property
    def ids(self) -> tuple[str, ...]:
        return tuple(t.id for t in self.themes)

    def __contains__(self, theme_id: str) -> bool:
        return theme_id in self.ids

    def name(self, theme_id: str) -> str:
        return next(t.name for t in self.themes if t.id == theme_id)

    def check(self, theme_id: object, path: str | Path, line: int | None) -> str:
        """``theme_id`` if the taxonomy has it; otherwise an error naming file and line."""
        if not isinstance(theme_id, str) or theme_id not in self.ids:
            raise LabelsError(f"unknown theme id {theme_id!r}", path=str(path), line=line,
                              fix=f"use an id of {self.path} ({', '.join(self.ids)}) "
                                  f"or add the theme there")
        return theme_id


def load_taxonomy(path: str | Path = DEFAULT_THEMES) -> Taxonomy:
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        fix = "run from the repository root or pass --themes"
        if not path.suffix:   # 'summarise --themes thresholds': one theme is --theme
            fix = ("give --themes the taxonomy's YAML file, e.g. labels/themes.yaml; to summarise "
                   "one theme, use --theme")
        raise LabelsError("theme taxonomy not found", path=str(path), fix=fix) from None
    except IsADirectoryError:
        raise LabelsError("is a folder, not a file", path=str(path),
                          fix="give the taxonomy's YAML file to --themes") from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise LabelsError(f"not valid YAML ({getattr(exc, 'problem', exc)})", path=str(path),
                          line=mark.line + 1 if mark else None,
                          fix="fix the YAML syntax") from None
    items = _themes_node(root, path)
    themes: list[Theme] = []
    seen: dict[str, int] = {}
    for node in items:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.MappingNode):
            raise LabelsError("a theme must be a mapping with id, name and definition",
                              path=str(path), line=line, fix="see the other entries")
        fields = {k.value: v.value for k, v in node.value if isinstance(v, yaml.ScalarNode)}
        theme_id = (fields.get("id") or "").strip()
        if not _ID.match(theme_id):
            raise LabelsError(f"bad theme id {theme_id!r}", path=str(path), line=line,
                              fix="ids are lower case letters, digits and underscores")
        if theme_id in seen:
            raise LabelsError(f"duplicate theme id {theme_id!r} (first on line {seen[theme_id]})",
                              path=str(path), line=line, fix="remove or rename one of them")
        for key in ("name", "definition"):
            if not (fields.get(key) or "").strip():
                raise LabelsError(f"theme {theme_id!r} has no {key}", path=str(path), line=line,
                                  fix=f"add a {key}")
        if has_lone_surrogate(fields["name"] + fields["definition"]):
            raise LabelsError(f"theme {theme_id!r}: {HALF_A_CHARACTER}", path=str(path), line=line,
                              fix=WHOLE_CHARACTER)
        seen[theme_id] = line
        themes.append(Theme(theme_id, fields["name"].strip(), " ".join(fields["definition"].split())))
    if not themes:
        raise LabelsError("no themes", path=str(path), fix="list the themes under 'themes:'")
    return Taxonomy(tuple(themes), str(path))


def _themes_node(root, path: Path):
    import yaml

    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "themes" and isinstance(value, yaml.SequenceNode):
                return value.value
    raise LabelsError("expected a top-level 'themes:' list", path=str(path),
                      line=root.start_mark.line + 1 if root is not None else 1,
                      fix="see labels/themes.yaml in the repository")
