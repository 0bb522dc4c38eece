"""params.yaml: the parameters of every stage, grouped by stage, checked on reading.

The CLI reads this file and passes each stage its group; a value of the wrong
type or out of range is an error naming the file, the key and what is allowed.
"""

from __future__ import annotations

from pathlib import Path

from .errors import ParamsError

DEFAULT_PARAMS_FILE = Path("params.yaml")

# key: (type, minimum, maximum) for numbers; (type, choices) for strings; type for others
SCHEMA: dict[str, dict[str, tuple]] = {
    "train": {
        "seed": (int, 0, 2**31 - 1),
        "C": (float, 1e-4, 1e4),
        "min_df": (int, 1, 100),
        "inner_folds": (int, 2, 20),
        "threshold_tolerance": (float, 0.0, 0.5),
        "use_char": (bool,),
        "rule_features": (bool,),
        "context_features": (bool,),
        "context_weight": (float, 0.0, 10.0),
        "previous_weight": (float, 0.0, 10.0),
        "section_features": (bool,),
        "word_ngrams": (list,),
        "char_ngrams": (list,),
        "class_weight": (str, ("balanced", "none")),
        "judgement_C": (float, 1e-4, 1e4),
        "jobs": (int, 0, 256),
    },
    "evaluate": {
        "folds": (int, 2, 20),
        "held_out_set": ("names",),   # one labelling set, or a list of them
    },
    "tag": {
        "method": (str, ("combined", "rules")),
        "jobs": (int, 0, 256),
    },
    "summarise": {
        "typical_findings": (int, 1, 100),
    },
}


def _check(stage: str, key: str, value, spec: tuple, path: str):
    kind = spec[0]
    where = f"{stage}.{key}"
    if kind == "names":
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not names or not all(isinstance(n, str) and n for n in names):
            raise ParamsError(f"{where} must be a name or a list of names, got {value!r}", path=path,
                              fix=f"write {key}: NAME, or {key}: [NAME, NAME]")
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ParamsError(f"{where} names {repeated[0]!r} twice", path=path,
                              fix="name each labelling set once")
        return names
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if kind is int and isinstance(value, bool) or not isinstance(value, kind):
        described = {int: "a whole number", float: "a number", str: "text", bool: "true or false",
                     list: "a list"}.get(kind, kind.__name__)
        allowed = f" ({', '.join(map(str, spec[1]))})" if kind is str and len(spec) == 2 else ""
        raise ParamsError(f"{where} must be {described}{allowed}, got {value!r}", path=path,
                          fix=f"set {where} to {described}{allowed}")
    if kind in (int, float) and len(spec) == 3 and not spec[1] <= value <= spec[2]:
        raise ParamsError(f"{where} = {value!r} is out of range", path=path,
                          fix=f"use a value from {spec[1]} to {spec[2]}")
    if kind is str and len(spec) == 2 and value not in spec[1]:
        raise ParamsError(f"{where} = {value!r} is not allowed", path=path,
                          fix=f"use one of {', '.join(spec[1])}")
    if key.endswith("_ngrams"):
        if (len(value) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or not 1 <= value[0] <= value[1] <= 8):
            raise ParamsError(f"{where} = {value!r} is not a range", path=path,
                              fix="write [low, high] with 1 <= low <= high <= 8")
    return value


def params_file(path: str | Path | None = None) -> Path | None:
    """The file ``load_params(path)`` reads (None: the code's defaults)."""
    if path is not None:
        return Path(path)
    return DEFAULT_PARAMS_FILE if DEFAULT_PARAMS_FILE.exists() else None


def load_params(path: str | Path | None = None, stage: str | None = None) -> dict:
    """All groups (or one stage's group) of ``path``, checked. Without a path:
    params.yaml of the working folder (its groups of other programs left alone), or {}
    (the code's defaults) where there is none."""
    import yaml

    explicit = path is not None
    if path is None:
        path = params_file(None)
    elif Path(path).is_dir():
        raise ParamsError("is a folder, not a file", path=str(path),
                          fix="give a YAML file, e.g. --params params.yaml")
    elif not Path(path).is_file():
        raise ParamsError("parameters file not found", path=str(path),
                          fix="give an existing YAML file, or leave out --params to use params.yaml")
    if path is None:
        data: dict = {}
    else:
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            raise ParamsError("not valid YAML", path=str(path),
                              line=mark.line + 1 if mark else None, fix="fix the YAML syntax") from None
    if not isinstance(data, dict):
        raise ParamsError("expected a mapping of stage names to parameters", path=str(path),
                          fix="see params.yaml in the repository")
    checked: dict = {}
    for group, values in data.items():
        if group not in SCHEMA:
            if not explicit:
                continue  # the working folder's params.yaml may be another project's too
            raise ParamsError(f"unknown group {group!r}", path=str(path),
                              fix=f"the groups are the stages: {', '.join(SCHEMA)}")
        if values is None:
            values = {}
        if not isinstance(values, dict):
            raise ParamsError(f"'{group}' must be a mapping", path=str(path), fix="indent its keys")
        schema = SCHEMA[group]
        checked[group] = {}
        for key, value in values.items():
            if key not in schema:
                raise ParamsError(f"unknown parameter {group}.{key}", path=str(path),
                                  fix=f"known: {', '.join(sorted(schema))}")
            checked[group][key] = _check(group, key, value, schema[key], str(path))
    if stage is not None:
        return checked.get(stage, {})
    return checked
