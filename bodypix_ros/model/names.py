"""BodyPix 2.0 model names and where a model's files come from.

A model is named like the official download tree
(`<base>/mobilenet/<quant>/<multiplier>/model-stride<S>.json`,
`<base>/resnet50/<quant>/model-stride<S>.json`), e.g.
'mobilenet_quant2_075_stride16' (the TFJS default) or 'resnet50_float_stride32'.
Names, specs and default locations only: `store.resolve_model` turns a name, a local
model.json or a model.json URL into a verified local model.json. No TensorFlow here.
"""

import difflib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple
from urllib.parse import urlsplit
from urllib.request import url2pathname

from bodypix_ros.errors import ModelError

DEFAULT_MODEL = "mobilenet_quant2_075_stride16"
OFFICIAL_BASE_URL = "https://storage.googleapis.com/tfjs-models/savedmodel/bodypix/"
BASE_URL_ENV = "BODYPIX_MODEL_BASE_URL"
CACHE_DIR_ENV = "BODYPIX_MODEL_CACHE_DIR"

# The model settings as a user meets them: node parameter, command-line option, environment.
MODEL_SETTING = "model (node parameter; --model on the command line)"
BASE_URL_SETTING = (f"model_base_url (node parameter; --model-base-url on the command line; "
                    f"or ${BASE_URL_ENV})")
CACHE_DIR_SETTING = (f"model_cache_dir (node parameter; --model-cache-dir on the command line; "
                     f"or ${CACHE_DIR_ENV})")

ARCHITECTURES = ("mobilenet_v1", "resnet50")
QUANTS = ("float", "quant2", "quant1")
MOBILENET_MULTIPLIERS = (0.5, 0.75, 1.0)
OUTPUT_STRIDES = {"mobilenet_v1": (8, 16), "resnet50": (16, 32)}

_ARCHITECTURE_FOLDERS = {"mobilenet_v1": "mobilenet", "resnet50": "resnet50"}
_MULTIPLIER_FOLDERS = {0.5: "050", 0.75: "075", 1.0: "100"}
_OFFICIAL_PATH = re.compile(
    r"(?:^|/)(?P<arch>mobilenet|resnet50)/(?P<quant>float|quant2|quant1)/"
    r"(?:(?P<mult>050|075|100)/)?model-stride(?P<stride>\d+)\.json$")




@dataclass(frozen=True)
class ModelSpec:
    """One official BodyPix 2.0 model.

    multiplier: MobileNetV1 depth multiplier (0.5, 0.75, 1.0), None for ResNet50;
    output_stride: network-input pixels per output-grid cell.
    """

    architecture: str
    quant: str
    multiplier: Optional[float]
    output_stride: int

    def __post_init__(self):
        if self.architecture not in ARCHITECTURES:
            raise ModelError(
                f"architecture {self.architecture!r} is not one of {', '.join(ARCHITECTURES)}"
            )
        if self.quant not in QUANTS:
            raise ModelError(f"weights {self.quant!r} are not one of {', '.join(QUANTS)}")
        multipliers = MOBILENET_MULTIPLIERS if self.architecture == "mobilenet_v1" else (None,)
        if self.multiplier not in multipliers:
            raise ModelError(
                f"{self.architecture} has no multiplier {self.multiplier!r}; valid: {multipliers}"
            )
        if self.output_stride not in OUTPUT_STRIDES[self.architecture]:
            raise ModelError(f"{self.architecture} has no output stride {self.output_stride!r}; "
                             f"valid: {OUTPUT_STRIDES[self.architecture]}")

    @property
    def name(self) -> str:
        """Short name, e.g. 'mobilenet_quant2_075_stride16', 'resnet50_float_stride32'."""
        return "_".join(self._folders() + [f"stride{self.output_stride}"])

    @property
    def relative_path(self) -> str:
        """model.json path in the official tree: 'mobilenet/quant2/075/model-stride16.json'."""
        return "/".join(self._folders() + [f"model-stride{self.output_stride}.json"])

    def _folders(self) -> List[str]:
        """Folder names of the model in the official tree, e.g. ['mobilenet', 'quant2', '075']."""
        folders = [_ARCHITECTURE_FOLDERS[self.architecture], self.quant]
        if self.multiplier is not None:
            folders.append(_MULTIPLIER_FOLDERS[self.multiplier])
        return folders


def all_model_specs() -> Tuple[ModelSpec, ...]:
    """Every official model: MobileNetV1 (3 weights x 3 multipliers x 2 strides), ResNet50
    (3 weights x 2 strides).
    """
    mobilenets = tuple(ModelSpec("mobilenet_v1", quant, multiplier, stride)
                       for quant in QUANTS for multiplier in MOBILENET_MULTIPLIERS
                       for stride in OUTPUT_STRIDES["mobilenet_v1"])
    resnets = tuple(ModelSpec("resnet50", quant, None, stride)
                    for quant in QUANTS for stride in OUTPUT_STRIDES["resnet50"])
    return mobilenets + resnets


def parse_model_name(name: str) -> ModelSpec:
    """Short name -> ModelSpec; ModelError listing the valid names otherwise."""
    specs = {spec.name: spec for spec in all_model_specs()}
    key = name.strip().lower()
    if key in specs:
        return specs[key]
    close = difflib.get_close_matches(key, specs, n=3)
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    raise ModelError(f"unknown model {name!r}{hint}; valid names: {', '.join(specs)}; "
                     f"or pass a path or http(s) URL to a model.json")


def spec_from_path(path: str) -> Optional[ModelSpec]:
    """The official model a path or URL ending like the official tree names, else None."""
    match = _OFFICIAL_PATH.search(path.replace("\\", "/"))
    if match is None:
        return None
    architecture = "resnet50" if match["arch"] == "resnet50" else "mobilenet_v1"
    multipliers = {folder: value for value, folder in _MULTIPLIER_FOLDERS.items()}
    try:
        return ModelSpec(
            architecture, match["quant"], multipliers.get(match["mult"]), int(match["stride"])
        )
    except ModelError:
        return None


def default_cache_dir() -> Path:
    """$BODYPIX_MODEL_CACHE_DIR, else $XDG_CACHE_HOME/bodypix_ros, else ~/.cache/bodypix_ros."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "bodypix_ros"


def default_base_url() -> str:
    """$BODYPIX_MODEL_BASE_URL, else the official TFJS storage."""
    return os.environ.get(BASE_URL_ENV) or OFFICIAL_BASE_URL


def local_path(text: str) -> str:
    """'file:///a/b' -> '/a/b'; other text unchanged."""
    return url2pathname(urlsplit(text).path) if text.startswith("file://") else text
