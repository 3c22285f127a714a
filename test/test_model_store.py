"""Download, cache and verification of real BodyPix models served from 127.0.0.1."""

import json
import shutil
import socket
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bodypix_ros.errors import ModelError
from bodypix_ros.model import store as model_store
from bodypix_ros.model.names import (
    BASE_URL_ENV,
    CACHE_DIR_ENV,
    DEFAULT_MODEL,
    default_cache_dir,
    parse_model_name,
)
from bodypix_ros.model.store import resolve_model

DEFAULT_PATH = parse_model_name(DEFAULT_MODEL).relative_path          # mobilenet/quant2/075/...
SHARD = "mobilenet/quant2/075/group1-shard1of1.bin"


class MirrorHandler(SimpleHTTPRequestHandler):
    """Serves the shared model tree; counts GETs; serves `server.replacements[path]` bytes
    instead if set."""

    def do_GET(self):
        self.server.requests.append(self.path)
        replacement = self.server.replacements.get(self.path.lstrip("/"))
        if replacement is None:
            return super().do_GET()
        self.send_response(200)
        self.send_header("Content-Length", str(len(replacement)))
        self.end_headers()
        self.wfile.write(replacement)

    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(models_dir):
    """An HTTP mirror of ../shared/models/bodypix on an ephemeral loopback port."""
    server = ThreadingHTTPServer(
        ("127.0.0.1", 0), partial(MirrorHandler, directory=str(models_dir))
    )
    server.requests, server.replacements = [], {}
    server.url = f"http://127.0.0.1:{server.server_address[1]}/"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_model_env(monkeypatch):
    monkeypatch.delenv(BASE_URL_ENV, raising=False)
    monkeypatch.delenv(CACHE_DIR_ENV, raising=False)


def cached_files(cache: Path):
    return sorted(path for path in cache.rglob("*") if path.is_file()) if cache.exists() else []


def test_first_resolve_downloads_and_caches_second_makes_no_request(mirror, models_dir, tmp_path):
    cache = tmp_path / "cache"
    first = resolve_model(DEFAULT_MODEL, base_url=mirror.url, cache_dir=str(cache))
    assert (
        first.model_json == cache / "127.0.0.1_{}".format(mirror.server_address[1]) / DEFAULT_PATH
    )
    assert (first.name, first.architecture, first.output_stride) == (
        DEFAULT_MODEL,
        "mobilenet_v1",
        16,
    )
    assert len(mirror.requests) == 2
    for path in cached_files(cache):
        source = models_dir / path.relative_to(first.model_json.parents[3])
        assert path.read_bytes() == source.read_bytes(), path
    assert {path.name for path in cached_files(cache)} == {
        "model-stride16.json",
        "group1-shard1of1.bin",
    }

    second = resolve_model(DEFAULT_MODEL, base_url=mirror.url, cache_dir=str(cache))
    assert second == first and len(mirror.requests) == 2


def test_other_stride_reuses_the_cached_shard(mirror, tmp_path):
    cache = str(tmp_path / "cache")
    resolve_model("mobilenet_quant2_075_stride16", base_url=mirror.url, cache_dir=cache)
    resolved = resolve_model("mobilenet_quant2_075_stride8", base_url=mirror.url, cache_dir=cache)
    assert resolved.output_stride == 8
    assert mirror.requests[2:] == ["/mobilenet/quant2/075/model-stride8.json"]


@pytest.mark.parametrize("change", [lambda data: data[:-1000], lambda data: data + b"\0" * 8])
def test_wrong_size_shard_is_rejected_and_nothing_cached(mirror, models_dir, tmp_path, change):
    shard = (models_dir / SHARD).read_bytes()
    mirror.replacements[SHARD] = change(shard)
    cache = tmp_path / "cache"
    with pytest.raises(ModelError) as caught:
        resolve_model(DEFAULT_MODEL, base_url=mirror.url, cache_dir=str(cache))
    message = str(caught.value)
    assert "group1-shard1of1.bin" in message and str(len(shard)) in message
    assert str(len(change(shard))) in message and "nothing was cached" in message
    assert "--model-base-url" in message
    assert cached_files(cache) == []


def test_broken_model_json_is_rejected(mirror, tmp_path):
    mirror.replacements[DEFAULT_PATH] = b"<html>not found</html>"
    with pytest.raises(ModelError, match="not a TFJS graph model.json"):
        resolve_model(DEFAULT_MODEL, base_url=mirror.url, cache_dir=str(tmp_path))
    assert cached_files(tmp_path) == []


def test_missing_model_and_unreachable_server_say_how_to_work_offline(mirror, tmp_path):
    with pytest.raises(ModelError, match="404") as caught:
        resolve_model("resnet50_float_stride16", base_url=mirror.url, cache_dir=str(tmp_path))
    assert "resnet50/float/model-stride16.json" in str(caught.value)
    with socket.socket() as probe:                  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_url = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    with pytest.raises(ModelError) as caught:
        resolve_model(DEFAULT_MODEL, base_url=closed_url, cache_dir=str(tmp_path))
    message = str(caught.value)
    assert closed_url in message and "--model-base-url" in message and BASE_URL_ENV in message
    assert cached_files(tmp_path) == []


def test_corrupt_cache_is_reported_with_the_folder_to_delete(mirror, tmp_path):
    cache = tmp_path / "cache"
    resolved = resolve_model(DEFAULT_MODEL, base_url=mirror.url, cache_dir=str(cache))
    shard = resolved.model_json.parent / "group1-shard1of1.bin"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(ModelError, match="delete the cache dir") as caught:
        resolve_model(DEFAULT_MODEL, base_url=mirror.url, cache_dir=str(cache))
    assert str(resolved.model_json.parent) in str(caught.value)


def test_unwritable_cache_dir_is_a_model_error(mirror, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    with pytest.raises(ModelError, match="--model-cache-dir"):
        resolve_model(DEFAULT_MODEL, base_url=mirror.url, cache_dir=str(not_a_dir))


def test_local_directory_base_url_is_used_in_place(models_dir, tmp_path):
    cache = tmp_path / "cache"
    resolved = resolve_model(
        "mobilenet_quant1_100_stride8", base_url=str(models_dir), cache_dir=str(cache)
    )
    assert resolved.model_json == models_dir / "mobilenet/quant1/100/model-stride8.json"
    assert (resolved.architecture, resolved.output_stride) == ("mobilenet_v1", 8)
    assert not cache.exists()
    via_file_url = resolve_model(DEFAULT_MODEL, base_url=models_dir.as_uri(), cache_dir=str(cache))
    assert via_file_url.model_json == models_dir / DEFAULT_PATH


def test_url_with_a_bad_port_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="bad port"):
        resolve_model("http://example.com:abc/m/model-stride16.json", cache_dir=str(tmp_path))


def test_missing_base_directory_is_rejected(tmp_path):
    with pytest.raises(ModelError, match="neither an http"):
        resolve_model(DEFAULT_MODEL, base_url=str(tmp_path / "absent"))


def test_corrupt_local_mirror_is_rejected(models_dir, tmp_path):
    folder = tmp_path / "mirror" / "mobilenet" / "quant2" / "075"
    folder.mkdir(parents=True)
    for source in (models_dir / "mobilenet/quant2/075").iterdir():
        shutil.copyfile(source, folder / source.name)
    shard = folder / "group1-shard1of1.bin"
    model_store.verify_model_files(folder / "model-stride16.json")
    size = shard.stat().st_size
    shard.write_bytes(shard.read_bytes()[:size // 2])
    with pytest.raises(ModelError) as caught:
        resolve_model(DEFAULT_MODEL, base_url=str(tmp_path / "mirror"))
    message = str(caught.value)
    assert "group1-shard1of1.bin" in message and str(size) in message and str(size // 2) in message
    shard.unlink()
    with pytest.raises(ModelError, match="group1-shard1of1.bin is missing"):
        model_store.verify_model_files(folder / "model-stride8.json")


def test_model_given_as_url_or_path(mirror, models_dir, tmp_path):
    by_url = resolve_model(
        mirror.url + "mobilenet/quant1/050/model-stride8.json", cache_dir=str(tmp_path)
    )
    assert (by_url.name, by_url.output_stride) == ("mobilenet_quant1_050_stride8", 8)
    assert by_url.model_json.is_file() and len(mirror.requests) == 2

    folder = tmp_path / "renamed"
    folder.mkdir()
    shutil.copyfile(
        models_dir / "mobilenet/quant1/050/model-stride16.json", folder / "my-resnet-stride32.json"
    )
    shutil.copyfile(
        models_dir / "mobilenet/quant1/050/group1-shard1of1.bin", folder / "group1-shard1of1.bin"
    )
    inferred = resolve_model(str(folder / "my-resnet-stride32.json"))
    assert (inferred.architecture, inferred.output_stride) == ("resnet50", 32)
    assert inferred.name == str(folder / "my-resnet-stride32.json")
    (folder / "my-resnet-stride32.json").rename(folder / "model.json")
    with pytest.raises(ModelError, match="short model name"):
        resolve_model(str(folder / "model.json"))


def test_environment_gives_defaults_and_arguments_win(mirror, models_dir, tmp_path, monkeypatch):
    env_cache = tmp_path / "env-cache"
    monkeypatch.setenv(BASE_URL_ENV, mirror.url)
    monkeypatch.setenv(CACHE_DIR_ENV, str(env_cache))
    from_env = resolve_model(DEFAULT_MODEL)
    assert from_env.model_json.is_relative_to(env_cache) and len(mirror.requests) == 2

    by_argument = resolve_model(DEFAULT_MODEL, base_url=str(models_dir))
    assert by_argument.model_json == models_dir / DEFAULT_PATH and len(mirror.requests) == 2
    arg_cache = tmp_path / "arg-cache"
    resolve_model(DEFAULT_MODEL, cache_dir=str(arg_cache))
    assert len(cached_files(arg_cache)) == 2 and len(mirror.requests) == 4


def test_default_cache_dir_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "bodypix_ros"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "bodypix_ros"
    monkeypatch.setenv(CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert default_cache_dir() == tmp_path / "mine"


def test_manifest_sizes_match_every_shared_shard(models_dir):
    for model_json in sorted(models_dir.rglob("model-stride*.json")):
        manifest = model_store.read_manifest(model_json.read_bytes(), str(model_json))
        (group,) = manifest
        assert (
            model_store.group_bytes(group)
            == (model_json.parent / group["paths"][0]).stat().st_size
        )


def test_multi_shard_groups_name_the_wrong_shard():
    four_mib = model_store.CONVERTER_SHARD_BYTES
    group = {"paths": ["a.bin", "b.bin", "c.bin"],
             "weights": [{"name": "w", "shape": [four_mib + 10, 2], "dtype": "float32",
                          "quantization": {"dtype": "uint8"}}]}
    total = model_store.group_bytes(group)
    assert total == 2 * (four_mib + 10)
    assert model_store.expected_shard_sizes(total, 3) == [four_mib, four_mib, 20]
    good = {"a.bin": four_mib, "b.bin": four_mib, "c.bin": 20}
    assert model_store.shard_size_problems([group], good) == []
    problems = model_store.shard_size_problems([group], dict(good, **{"b.bin": 7}))
    assert len(problems) == 1 and "b.bin is 7 bytes" in problems[0]
    # a layout the converter default cannot produce: only the group total is checkable
    odd = dict(group, paths=["a.bin", "b.bin", "c.bin", "d.bin"])
    assert model_store.expected_shard_sizes(total, 4) is None
    sizes = {"a.bin": 10, "b.bin": 10, "c.bin": 10, "d.bin": total - 30}
    assert model_store.shard_size_problems([odd], sizes) == []
    assert model_store.shard_size_problems([odd], dict(sizes, **{"d.bin": 1}))


def test_manifest_with_escaping_or_unknown_entries_is_rejected():
    escaping = {"weightsManifest": [{"paths": ["../../etc/passwd"], "weights": []}]}
    with pytest.raises(ModelError, match="leaves the model folder"):
        model_store.read_manifest(json.dumps(escaping).encode(), "x.json")
    strange = {"weightsManifest": [{"paths": ["a.bin"],
                                    "weights": [{"name": "s", "shape": [1], "dtype": "string"}]}]}
    with pytest.raises(ModelError, match="dtype 'string'"):
        model_store.read_manifest(json.dumps(strange).encode(), "x.json")


def test_an_unreadable_model_file_is_a_model_error(tmp_path):
    model_json = tmp_path / "model-stride16.json"
    model_json.mkdir()  # exists, but reading it fails with an OSError
    with pytest.raises(ModelError, match="cannot read"):
        model_store.check_shards(model_json, f"model {model_json}", "copy it again")
