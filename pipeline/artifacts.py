"""Saving and loading trained models safely.

A model is a joblib file next to a metadata JSON: library versions, params, label
set, the training data's hash and the artifact's own sha256. joblib files run code
when loaded, so a model is loaded only after its bytes hash to the sha256 its
metadata recorded and the installed library versions equal those it was trained
with; anything else is refused with a message that says why and what to do.
Nothing here writes a timestamp: the same training data gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import json
import platform
from pathlib import Path

from .errors import ModelError
from .outputs import json_text, replace_together

# The libraries whose versions decide whether a pickled pipeline loads and
# behaves as trained.
CHECKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib")


def library_versions() -> dict:
    from importlib.metadata import version

    versions = {name: version(name) for name in CHECKED_LIBRARIES}
    versions["python"] = platform.python_version()
    versions["spacy"] = version("spacy")
    return versions


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def meta_path(artifact: str | Path) -> Path:
    artifact = Path(artifact)
    return artifact.with_name(artifact.name.removesuffix(".joblib") + ".meta.json")


def save_models(models: list[tuple[object, Path, dict]], remove: tuple[Path, ...] = (),
                option: str = "--out-dir") -> list[dict]:
    """Write each (object, artifact, metadata) and remove the artifacts ``remove``, all
    in one step: every file is serialised and written first, then all are put in place
    with Ctrl-C held off, so a stopped run leaves the earlier models as they were."""
    import joblib

    files: dict[Path, bytes] = {}
    metas = []
    for obj, artifact, meta in models:
        buffer = io.BytesIO()
        joblib.dump(obj, buffer, compress=3)
        data = buffer.getvalue()
        meta = {**meta, "artifact": Path(artifact).name, "sha256": sha256_bytes(data),
                "versions": library_versions()}
        meta["meta_sha256"] = meta_digest(meta)
        files[Path(artifact)] = data
        files[meta_path(artifact)] = json_text(meta).encode("utf-8")
        metas.append(meta)
    removed = [path for artifact in remove for path in (Path(artifact), meta_path(artifact))]
    replace_together(files, removed, option)
    return metas


def meta_digest(meta: dict) -> str:
    """The sha256 of the metadata without its own digest: an edited threshold or
    parameter would otherwise claim settings the model does not have."""
    body = {k: v for k, v in meta.items() if k != "meta_sha256"}
    return sha256_bytes(json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8"))


def read_meta(artifact: str | Path) -> dict:
    path = meta_path(artifact)
    if not Path(artifact).exists():
        raise ModelError("model not found", path=str(artifact),
                         fix="train one with 'safeguarding-themes train'")
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError("model has no metadata file; refusing to load it", path=str(artifact),
                         fix=f"{path.name} must sit beside it; retrain with 'safeguarding-themes train'") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError):
        raise ModelError("model metadata is not valid JSON; refusing to load the model",
                         path=str(path), fix="retrain with 'safeguarding-themes train'") from None
    except OSError as exc:
        raise ModelError(f"cannot read the model's metadata ({exc.strerror or exc})", path=str(path),
                         fix=f"{path.name} must be the file 'train' wrote beside the model; retrain "
                             "with 'safeguarding-themes train'") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("versions", {}), dict):
        raise ModelError("model metadata is not what 'train' writes; refusing to load the model",
                         path=str(path), fix="retrain with 'safeguarding-themes train'")
    if meta.get("meta_sha256") != meta_digest(meta):
        raise ModelError("model metadata was edited, or written by an earlier version (its "
                         "meta_sha256 does not match); refusing to load the model", path=str(path),
                         fix="retrain with 'safeguarding-themes train'")
    return meta


def load_model(artifact: str | Path, expect_kind: str | None = None):
    """The object in ``artifact``, after checking its hash and library versions."""
    import joblib

    artifact = Path(artifact)
    meta = read_meta(artifact)
    data = artifact.read_bytes()
    verify_artifact(artifact, meta, data)
    if expect_kind and meta.get("kind") != expect_kind:
        raise ModelError(f"not a {expect_kind} model (kind {meta.get('kind')!r})", path=str(artifact),
                         fix="check the path")
    return joblib.load(io.BytesIO(data)), meta


def verify_artifact(artifact: Path, meta: dict, data: bytes | None = None) -> None:
    """Refuse an artifact whose bytes or library versions are not those its
    metadata recorded at training time."""
    data = Path(artifact).read_bytes() if data is None else data
    actual = sha256_bytes(data)
    if actual != meta.get("sha256"):
        raise ModelError(
            f"refusing to load: sha256 {actual[:12]}... does not match {meta.get('sha256', '')[:12]}... "
            f"recorded at training (the file was changed or replaced)", path=str(artifact),
            fix="retrain with 'safeguarding-themes train'; never load models from untrusted sources")
    installed = library_versions()
    for name in CHECKED_LIBRARIES:
        trained = meta.get("versions", {}).get(name)
        if trained != installed[name]:
            raise ModelError(
                f"model trained with {name} {trained}, this environment has {name} {installed[name]}",
                path=str(artifact),
                fix=f"retrain with 'safeguarding-themes train', or install {name}=={trained}")

