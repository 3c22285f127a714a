"""Download TFJS graph models into a local cache, and check a model's files.

A model is its model.json plus the weight shards its `weightsManifest` lists.
A download lands in `<cache>/<host>[_<port>]/<URL path>` (e.g.
`~/.cache/bodypix_ros/storage.googleapis.com/tfjs-models/savedmodel/bodypix/
mobilenet/quant2/075/model-stride16.json`): files are fetched into a temporary
folder inside the cache, every shard's byte size is checked against the
manifest, then they are moved in with `os.replace`, model.json last, so a
model.json in the cache means a complete model. A cached model is used without
touching the network. urllib only; progress is logged on logger 'bodypix_ros'.
`resolve_model` is the entry point: a model name, path or URL -> a verified local model.
"""

import http.client
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Tuple
from urllib.parse import unquote, urljoin, urlsplit
from urllib.request import Request, urlopen

from bodypix_ros.errors import ModelError
from bodypix_ros.model.graph import group_bytes, read_model_json
from bodypix_ros.model.names import (
    BASE_URL_SETTING,
    CACHE_DIR_SETTING,
    DEFAULT_MODEL,
    MODEL_SETTING,
    OFFICIAL_BASE_URL,
    OUTPUT_STRIDES,
    default_base_url,
    default_cache_dir,
    local_path,
    parse_model_name,
    spec_from_path,
)
from bodypix_ros.version import __version__

LOGGER = logging.getLogger("bodypix_ros")

DOWNLOAD_TIMEOUT_S = 30.0
"""Seconds a connection or a read may stall before the download fails."""
CHUNK_BYTES = 1 << 20
CONVERTER_SHARD_BYTES = 4 * 1024 * 1024
"""Shard size the TFJS converter splits a weight group into (its default)."""

DEFAULT_MODEL_PATH = parse_model_name(DEFAULT_MODEL).relative_path
OFFLINE_HINT = (f"for offline use set {BASE_URL_SETTING} "
                f"to a local mirror of the model tree")


MANIFEST_REMEDY = f"point {MODEL_SETTING} at a model-stride<N>.json of the BodyPix 2.0 tree"
"""What to do about a model.json that is not a TFJS graph model."""


def read_manifest(model_json: bytes, source: str, remedy: str = MANIFEST_REMEDY) -> List[dict]:
    """model.json bytes -> its weightsManifest groups ({'paths': [...], 'weights': [...]})."""
    try:
        groups = json.loads(model_json)["weightsManifest"]
        for group in groups:
            if not group["paths"]:
                raise ValueError("a weight group lists no shard")
            for shard in group["paths"]:
                _check_shard_name(shard)
            group_bytes(group)
    except (ValueError, KeyError, TypeError) as error:
        raise ModelError(
            f"{source} is not a TFJS graph model.json ({error!r}): {remedy}"
        ) from None
    return groups


def expected_shard_sizes(total: int, count: int) -> Optional[List[int]]:
    """Byte sizes of `count` shards holding `total` bytes as the TFJS converter writes them.

    All shards but the last are CONVERTER_SHARD_BYTES; None when that layout
    cannot hold `total` (a model converted with another shard size).
    """
    if count == 1:
        return [total]
    last = total - (count - 1) * CONVERTER_SHARD_BYTES
    if not 0 < last <= CONVERTER_SHARD_BYTES:
        return None
    return [CONVERTER_SHARD_BYTES] * (count - 1) + [last]


def shard_size_problems(manifest: List[dict], sizes: Dict[str, Optional[int]]) -> List[str]:
    """Each shard whose byte size (None = missing) disagrees with the manifest, as a sentence."""
    problems = []
    for group in manifest:
        names = group["paths"]
        total = group_bytes(group)
        expected = expected_shard_sizes(total, len(names))
        if any(sizes[name] is None for name in names):
            problems += [f"{name} is missing" for name in names if sizes[name] is None]
        elif expected is None:
            actual = sum(sizes[name] for name in names)
            if actual != total:
                problems.append(
                    f"{', '.join(names)} hold {actual} bytes, the manifest says {total}"
                )
        else:
            problems += [f"{name} is {sizes[name]} bytes, the manifest says {size}"
                         for name, size in zip(names, expected) if sizes[name] != size]
    return problems


def shard_names(manifest: List[dict]) -> List[str]:
    """Every shard file name of a manifest, in order."""
    return [name for group in manifest for name in group["paths"]]


def verify_model_files(model_json: Path) -> None:
    """Check a local model.json and its shards (next to it) against its manifest; ModelError if
    not.
    """
    model_json = Path(model_json)
    if not model_json.is_file():
        raise ModelError(
            f"model file {model_json} not found: pass an existing model.json, a short "
            f"model name, or {BASE_URL_SETTING} laid out like the official tree"
        )
    check_shards(
        model_json,
        f"model {model_json}",
        "copy the complete model folder again or use a short model name to download it",
    )


def check_shards(
    model_json: Path, what: str, remedy: str, manifest_remedy: str = MANIFEST_REMEDY
) -> None:
    """ModelError "`what` is corrupt: ...; `remedy`" unless the shards beside `model_json` have
    the sizes its manifest lists (manifest_remedy: the fix named when model.json itself is
    unreadable).
    """
    try:
        text = model_json.read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read {what}: {error.strerror}; {remedy}") from None
    manifest = read_manifest(text, str(model_json), manifest_remedy)
    problems = shard_size_problems(manifest, _local_sizes(manifest, model_json.parent))
    if problems:
        raise ModelError(f"{what} is corrupt: {'; '.join(problems)}; {remedy}")


def cache_path(url: str, cache_dir: Path) -> Path:
    """Where the file at `url` is cached: <cache_dir>/<host>[_<port>]/<URL path>."""
    parts = urlsplit(url)
    segments = [segment for segment in unquote(parts.path).split("/") if segment]
    try:
        port = parts.port
    except ValueError as error:  # e.g. 'host:abc'
        raise ModelError(f"model URL {url!r} has a bad port ({error})") from None
    if not all((parts.hostname or "").split(".")):  # '', '..', 'a..b'
        raise ModelError(f"model URL {url!r} has no valid host name")
    if not segments or any(s in (".", "..") for s in segments):
        raise ModelError(f"model URL {url!r} does not name a model.json file: use e.g. "
                         f"{OFFICIAL_BASE_URL}{DEFAULT_MODEL_PATH}")
    host = parts.hostname + (f"_{port}" if port else "")
    return Path(cache_dir, host, *segments)


def fetch_model(url: str, cache_dir: Path) -> Path:
    """The cached model.json of the model at http(s) `url`, downloading it once; ModelError on
    failure.
    """
    target = cache_path(url, cache_dir)
    if target.is_file():
        remedy = f"delete the cache dir {target.parent} and retry"
        check_shards(target, f"cached model {target}", remedy, manifest_remedy=remedy)
        LOGGER.debug("using cached model %s", target)
        return target
    try:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as staging:
            _download_model(url, target, Path(staging))
    except OSError as error:
        raise ModelError(f"cannot write the model cache {cache_dir}: {error}; choose another with "
                         f"{CACHE_DIR_SETTING}") from None
    return target


def _download_model(url: str, target: Path, staging: Path) -> None:
    """Download model.json and its missing shards into `staging`, check sizes, move them to
    target's folder.
    """
    staged_json = staging / target.name
    _download(url, staged_json)
    manifest = read_manifest(staged_json.read_bytes(), url)
    read_model_json(staged_json)  # the graph's structure too: a bad model is never cached
    cached = _local_sizes(manifest, target.parent)
    reusable = _reusable_shards(manifest, cached)
    for name in shard_names(manifest):
        if name not in reusable:
            _download(urljoin(url, name), staging / name)
    sizes = {name: cached[name] if name in reusable else _file_size(staging / name)
             for name in shard_names(manifest)}
    problems = shard_size_problems(manifest, sizes)
    if problems:
        raise ModelError(
            f"download of {url} is corrupt: {'; '.join(problems)}; nothing was cached. "
            f"Retry, check the server's copy, or {OFFLINE_HINT}"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    for name in shard_names(manifest):
        if name not in reusable:
            (target.parent / name).parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target.parent / name)
    os.replace(staged_json, target)
    LOGGER.info("cached model %s", target)


def _reusable_shards(manifest: List[dict], cached: Dict[str, Optional[int]]) -> set:
    """Shards already in the cache folder with their exact expected size (strides share shards)."""
    reusable = set()
    for group in manifest:
        expected = expected_shard_sizes(group_bytes(group), len(group["paths"]))
        if expected is not None:
            reusable.update(
                name for name, size in zip(group["paths"], expected) if cached[name] == size
            )
    return reusable


def _download(url: str, destination: Path) -> None:
    """Stream `url` into `destination`; network failures -> ModelError."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    request = Request(url, headers={"User-Agent": f"bodypix_ros/{__version__}"})
    with open(destination, "wb") as out:
        try:
            response = urlopen(request, timeout=DOWNLOAD_TIMEOUT_S)
        except (OSError, http.client.HTTPException, UnicodeError, ValueError) as error:
            raise _network_error(url, error) from None  # UnicodeError: a host name IDNA refuses
        with response:
            LOGGER.info(
                "downloading %s (%s bytes)", url, response.headers.get("Content-Length", "?")
            )
            while True:
                try:
                    chunk = response.read(CHUNK_BYTES)
                except (OSError, http.client.HTTPException) as error:
                    raise _network_error(url, error) from None
                if not chunk:
                    break
                out.write(chunk)


def _network_error(url: str, error: Exception) -> ModelError:
    return ModelError(f"cannot download {url}: {error!r}; {OFFLINE_HINT}")


def _check_shard_name(name: str) -> None:
    path = PurePosixPath(name)
    if not name or path.is_absolute() or ".." in path.parts:
        raise ValueError(f"shard path {name!r} leaves the model folder")


def _file_size(path: Path) -> Optional[int]:
    return path.stat().st_size if path.is_file() else None


def _local_sizes(manifest: List[dict], folder: Path) -> Dict[str, Optional[int]]:
    return {name: _file_size(folder / name) for name in shard_names(manifest)}


@dataclass(frozen=True)
class ResolvedModel:
    """A verified local model.json and what the engine needs to know about it."""

    model_json: Path
    name: str
    architecture: str
    output_stride: int


def resolve_model(model: str, base_url: Optional[str] = None,
                  cache_dir: Optional[str] = None) -> ResolvedModel:
    """A short name, local model.json path or http(s) model.json URL -> verified local model.

    base_url (for short names): argument > $BODYPIX_MODEL_BASE_URL > OFFICIAL_BASE_URL;
    an http(s) URL (downloaded into the cache once) or a local directory laid
    out like the official tree (used in place). cache_dir: argument >
    $BODYPIX_MODEL_CACHE_DIR > $XDG_CACHE_HOME/bodypix_ros > ~/.cache/bodypix_ros.
    Raises ModelError saying what to do.
    """
    cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    if _is_url(model) or _looks_like_path(model):
        source = model
        spec = spec_from_path(urlsplit(model).path if _is_url(model) else model)
    else:
        spec = parse_model_name(model)
        base = base_url or default_base_url()
        source = _join(base, spec.relative_path)
    if _is_url(source):
        model_json = fetch_model(source, cache)
    else:
        model_json = Path(local_path(source)).expanduser()
        verify_model_files(model_json)
    if spec is not None:
        return ResolvedModel(model_json, spec.name, spec.architecture, spec.output_stride)
    architecture, stride = _infer_architecture_and_stride(source)
    return ResolvedModel(model_json, source, architecture, stride)


def _infer_architecture_and_stride(source: str) -> Tuple[str, int]:
    """'resnet' in the path -> ResNet50, 'stride<N>' -> output stride N (tf-bodypix's rule)."""
    match = re.search(r"stride(\d+)", source)
    architecture = "resnet50" if "resnet" in source.lower() else "mobilenet_v1"
    if match is None or int(match[1]) not in OUTPUT_STRIDES[architecture]:
        raise ModelError(
            f"cannot tell the output stride of {source!r}: name the file like the official tree "
            f"(e.g. .../mobilenet/quant2/075/model-stride16.json, 'resnet' in the path for "
            f"ResNet50; "
            f"{architecture} strides: {OUTPUT_STRIDES[architecture]}) or use a short model name "
            f"with {BASE_URL_SETTING} pointing at your mirror"
        )
    return architecture, int(match[1])


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def _looks_like_path(text: str) -> bool:
    if not text.strip():
        return False  # Path("") is the current directory
    return (text.lower().endswith(".json") or text.startswith("file://") or "/" in text
            or os.sep in text or Path(text).expanduser().exists())


def _join(base: str, relative_path: str) -> str:
    """Base URL or directory + official relative path."""
    if _is_url(base):
        return base.rstrip("/") + "/" + relative_path
    directory = Path(local_path(base)).expanduser()
    if not directory.is_dir():
        raise ModelError(
            f"model base URL {base!r} is neither an http(s) URL nor an existing directory; "
            f"set {BASE_URL_SETTING} to a URL or a local mirror "
            f"laid out like {OFFICIAL_BASE_URL}"
        )
    return str(directory / relative_path)
