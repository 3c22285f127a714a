"""`bodypix-ros bench`: per-stage latency of our pipeline and of tf-bodypix's, on the same frames.

For each model and frame size, one real photo is resized (PIL bilinear) to the frame size.
The pipelines take turns in blocks of 10 timed runs (after 2 untimed ones), so machine noise
hits all alike while no pipeline is timed right after another's thread pool:
- ours: `engine.segment` (mask + part labels) + `render_overlay` (parts): what the node
  publishes by default;
- tf-bodypix: `predict_single` + `get_mask(threshold)` + `get_colored_part_mask(mask)`, the
  same outputs (mask + coloured parts; not blended onto the frame, which ours also does), fed
  the same loaded network (run by TensorFlow, also with --backend tflite);
- with --multi-person, ours again with the per-person decode and the persons overlay;
- the network alone (the bare model call on the resized input): our "network" stage also resizes
  the frame to the network input and scales the person scores and part argmax to that size, in
  the same TensorFlow call (with --backend tflite: a TensorFlow resize call, then TFLite).
Each row says whether TensorFlow ran its oneDNN CPU kernels (TF_ENABLE_ONEDNN_OPTS=0 or 1
chooses; unset, TensorFlow's default for the CPU). Warm-up iterations are discarded. Per
stage: median and p95 in milliseconds; end-to-end is the wall time of a whole pipeline;
post-network is end-to-end minus the network stage (ours) or get_mask + get_colored_part_mask
(tf-bodypix); non-network / network is our end-to-end minus the network alone, per millisecond
of the network alone. It measures; it never asserts a time.

With --effects it times instead what each privacy method and TFJS effect adds to a frame
(`cli.bench_effects`), against the segmentation as baseline; tf-bodypix is not needed.

Image: --image, else the five-people photo of the shared test data
($BODYPIX_SHARED_DIR or ../shared from the current directory), else scikit-image's astronaut.
"""

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from bodypix_ros.cli.common import (
    OVERLAY_ALPHA,
    add_model_arguments,
    add_settings_arguments,
    demo_image,
    import_optional,
    non_negative_int,
    positive_int,
    read_image,
    settings_from_args,
    write_text,
)
from bodypix_ros.errors import CliError, UsageError
from bodypix_ros.model.names import (
    BASE_URL_ENV,
    DEFAULT_MODEL,
    all_model_specs,
    default_base_url,
    local_path,
)
from bodypix_ros.network_input import network_input
from bodypix_ros.render import render_overlay

DEFAULT_SIZES = "640x480,1280x720"
ALL_LOCAL = "all-local"
SHARED_DIR_ENV = "BODYPIX_SHARED_DIR"
SHARED_PHOTO = Path("images/pexels/five_people_fauxels-3184419.jpg")
"""The default photo, relative to the shared test data folder."""

TF_BODYPIX_STAGES = ("predict_single", "get_mask", "get_colored_part_mask")
END_TO_END = "end_to_end"
POST_NETWORK = "post_network"
NETWORK_ALONE = "network_alone"

FrameSize = Tuple[int, int]
"""(width, height) in pixels."""


# ---- options -----------------------------------------------------------------------------------

def frame_sizes(text: str) -> List[FrameSize]:
    """Argparse type: '640x480,1280x720' -> [(640, 480), (1280, 720)] as (width, height)."""
    sizes = []
    for item in text.replace(" ", "").split(","):
        width, _, height = item.lower().partition("x")
        if not (width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
            raise argparse.ArgumentTypeError(
                f"frame size {item!r} is not WIDTHxHEIGHT, e.g. 640x480"
            )
        sizes.append((int(width), int(height)))
    return sizes


def local_model_names(base_url: Optional[str]) -> List[str]:
    """Official model names whose model.json exists in the local folder (or file:// URL) `base_url`
    (default: $BODYPIX_MODEL_BASE_URL).
    """
    folder = Path(local_path(base_url or default_base_url())).expanduser()
    if not folder.is_dir():
        raise UsageError(
            f"--models {ALL_LOCAL} needs --model-base-url (or ${BASE_URL_ENV}) to be a local "
            f"folder laid out like the official model tree, not {str(folder)!r}"
        )
    names = [spec.name for spec in all_model_specs() if (folder / spec.relative_path).is_file()]
    if not names:
        raise UsageError(f"no official model file found under {folder}")
    return names


def models_to_bench(text: str, base_url: Optional[str]) -> List[str]:
    """--models value -> model names (or model.json paths / URLs), in order, without repeats."""
    if text.strip() == ALL_LOCAL:
        return local_model_names(base_url)
    names = list(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
    if not names:
        raise UsageError("--models names no model")
    return names


def default_image_path() -> Optional[Path]:
    """The five-people photo in $BODYPIX_SHARED_DIR (default ../shared), if it is there."""
    path = Path(os.environ.get(SHARED_DIR_ENV) or Path.cwd().parent / "shared") / SHARED_PHOTO
    return path if path.is_file() else None


def bench_photo(image: Optional[Path]) -> Tuple[str, np.ndarray]:
    """(name, (H, W, 3) uint8 RGB) of --image, else the shared photo, else the astronaut."""
    path = image or default_image_path()
    if path is None:
        return "astronaut (scikit-image)", demo_image()
    return str(path), read_image(path)


def resize_frame(photo: np.ndarray, size: FrameSize) -> np.ndarray:
    """(H, W, 3) uint8 photo -> (height, width, 3) uint8, PIL bilinear."""
    from PIL import Image

    return np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))


# ---- timing ------------------------------------------------------------------------------------

def time_ours(
    engine, frame: np.ndarray, settings, instances: bool
) -> Tuple[Dict[str, float], Optional[int]]:
    """One run of our pipeline -> ({stage: ms}: the engine's stages, 'overlay', end-to-end;
    persons found, None without the person decode).
    """
    overlay_mode = "persons" if instances else "parts"
    started = time.perf_counter()
    result = engine.segment(frame, settings, part_labels=True, instances=instances)
    segmented = time.perf_counter()
    render_overlay(frame, result, overlay_mode, OVERLAY_ALPHA)
    finished = time.perf_counter()
    stages = dict(result.timings_ms)
    stages["overlay"] = (finished - segmented) * 1000.0
    stages[END_TO_END] = (finished - started) * 1000.0
    stages[POST_NETWORK] = stages[END_TO_END] - stages["network"]
    return stages, len(result.persons) if instances else None


def time_network(engine, batch: np.ndarray) -> Tuple[Dict[str, float], None]:
    """One run of the bare network on a (1, H_in, W_in, 3) float32 batch -> ({'network',
    end-to-end: ms, post-network: 0}; None: no persons).
    """
    started = time.perf_counter()
    for values in engine.network(batch).values():
        np.asarray(values)
    network_ms = (time.perf_counter() - started) * 1000.0
    return {"network": network_ms, END_TO_END: network_ms, POST_NETWORK: 0.0}, None


def time_tf_bodypix(wrapper, frame: np.ndarray, threshold: float) -> Tuple[Dict[str, float], None]:
    """One run of tf-bodypix's pipeline (mask + coloured parts) -> ({stage: ms}: its three calls,
    end-to-end, post-network; None: no persons).
    """
    started = time.perf_counter()
    predicted = wrapper.predict_single(frame)
    predicted_at = time.perf_counter()
    mask = np.asarray(predicted.get_mask(threshold=threshold))
    masked_at = time.perf_counter()
    predicted.get_colored_part_mask(mask)
    finished = time.perf_counter()
    stages = {"predict_single": predicted_at - started, "get_mask": masked_at - predicted_at,
              "get_colored_part_mask": finished - masked_at, END_TO_END: finished - started}
    stages = {stage: seconds * 1000.0 for stage, seconds in stages.items()}
    stages[POST_NETWORK] = stages["get_mask"] + stages["get_colored_part_mask"]
    return stages, None


def tf_bodypix_wrapper(tf_bodypix_model, engine, internal_resolution: float):
    """tf-bodypix's BodyPixModelWrapper (tf_bodypix_model: the tf_bodypix.model module) around the
    engine's network run by TensorFlow (same weights, same graph; with the tflite backend, the
    TensorFlow graph it is converted from).
    """
    architecture = (
        tf_bodypix_model.ResNet50BodyPixPredictWrapper
        if engine.architecture == "resnet50"
        else tf_bodypix_model.MobileNetBodyPixPredictWrapper
    )
    return tf_bodypix_model.BodyPixModelWrapper(
        architecture(engine.graph_model),
        output_stride=engine.output_stride,
        internal_resolution=internal_resolution,
    )


def summarize(samples: Sequence[float]) -> Dict[str, float]:
    """Milliseconds -> {'median_ms', 'p95_ms'}."""
    values = np.asarray(samples, dtype=np.float64)
    return {"median_ms": round(float(np.median(values)), 3),
            "p95_ms": round(float(np.percentile(values, 95)), 3)}


def summarize_pipeline(runs: Sequence[Dict[str, float]], persons: Sequence[Optional[int]]) -> dict:
    """Per-iteration {stage: ms} and persons found (None: no decode) -> {'stages': {stage:
    summary}, 'end_to_end', 'post_network', 'fps'} and 'persons' (median count) if decoded. Stages
    keep the order the pipeline reported them in.
    """
    order = [stage for stage in dict.fromkeys(stage for run in runs for stage in run)
             if stage not in (END_TO_END, POST_NETWORK)]
    summary = {
        "stages": {
            stage: summarize([run[stage] for run in runs if stage in run]) for stage in order
        },
        END_TO_END: summarize([run[END_TO_END] for run in runs]),
        POST_NETWORK: summarize([run[POST_NETWORK] for run in runs]),
    }
    summary["fps"] = round(1000.0 / summary[END_TO_END]["median_ms"], 2)
    if None not in persons:
        summary["persons"] = int(np.median(persons))
    return summary


RUNS_PER_BLOCK = 10
"""Timed runs of one pipeline before the next takes over."""
SETTLE = 2
"""Untimed runs after each switch: the other pipeline's threads and memory traffic settle."""


def bench_frame(engine, wrapper, frame: np.ndarray, settings, iterations: int, warmup: int,
                multi_person: bool) -> dict:
    """Alternate the pipelines on one frame in blocks of RUNS_PER_BLOCK timed runs -> one report
    row (no names).

    Alternating blocks spread the machine's noise over every pipeline, like interleaving run by
    run, without timing one pipeline while the previous one's thread pool still spins.
    """
    batch = network_input(frame, engine.geometry(frame.shape[:2], settings), engine.architecture)
    pipelines = {
        "ours": lambda: time_ours(engine, frame, settings, instances=False),
        "tf_bodypix": lambda: time_tf_bodypix(wrapper, frame, settings.segmentation_threshold),
        NETWORK_ALONE: lambda: time_network(engine, batch),
    }
    if multi_person:
        pipelines["ours_multi_person"] = lambda: time_ours(engine, frame, settings, instances=True)
    for _ in range(warmup):
        for run in pipelines.values():
            run()
    samples: Dict[str, list] = {name: [] for name in pipelines}
    while len(samples["ours"]) < iterations:
        block = min(RUNS_PER_BLOCK, iterations - len(samples["ours"]))
        for name, run in pipelines.items():
            for _ in range(SETTLE if warmup else 0):
                run()
            samples[name].extend(run() for _ in range(block))
    row = {
        name: summarize_pipeline([stages for stages, _ in runs], [persons for _, persons in runs])
        for name, runs in samples.items()
    }
    row["ratio"] = ratios(
        row["ours"], row["tf_bodypix"], row[NETWORK_ALONE][END_TO_END]["median_ms"]
    )
    return row


def ratios(ours: dict, theirs: dict, network_ms: float) -> Dict[str, float]:
    """From medians: ours/tf-bodypix end-to-end, throughput ours/theirs, and (our end-to-end minus
    the network alone `network_ms`) / `network_ms`.
    """
    ours_ms, theirs_ms = ours[END_TO_END]["median_ms"], theirs[END_TO_END]["median_ms"]
    return {"end_to_end": round(ours_ms / theirs_ms, 3),
            "throughput": round(theirs_ms / ours_ms, 3),
            "non_network_per_network": round((ours_ms - network_ms) / network_ms, 3)}


def run_benchmark(
    models: Sequence[str],
    sizes: Sequence[FrameSize],
    photo: np.ndarray,
    settings,
    iterations: int,
    warmup: int,
    base_url: Optional[str] = None,
    cache_dir: Optional[str] = None,
    backend: str = "tensorflow",
    log=print,
) -> List[dict]:
    """Every model at every frame size -> report rows (model, frame_size, input_size, pipelines,
    ratio).
    """
    tf_bodypix_model = import_optional(  # before loading any model
        "tf_bodypix.model",
        "bench compares with tf-bodypix, which is not installed: pip install tf-bodypix",
    )
    from bodypix_ros.engine import BodyPixEngine

    onednn = onednn_enabled()
    rows = []
    for model in models:
        engine = BodyPixEngine.load(model, base_url=base_url, cache_dir=cache_dir, backend=backend)
        wrapper = tf_bodypix_wrapper(tf_bodypix_model, engine, settings.resolution_fraction)
        for width, height in sizes:
            log(
                f"{engine.model_name} {width}x{height}: {warmup} warm-up + {iterations} iterations"
            )
            frame = resize_frame(photo, (width, height))
            row = {
                "model": engine.model_name,
                "frame_size": f"{width}x{height}",
                "onednn": onednn,
                "input_size": list(engine.geometry((height, width), settings).input_size),
            }
            row.update(
                bench_frame(
                    engine,
                    wrapper,
                    frame,
                    settings,
                    iterations,
                    warmup,
                    settings.multi_person.enabled,
                )
            )
            rows.append(row)
    return rows


def environment() -> dict:
    """Versions and machine of this run."""
    from importlib.metadata import version

    import tensorflow as tf

    from bodypix_ros.version import __version__

    return {
        "bodypix_ros": __version__,
        "tensorflow": tf.__version__,
        "tf_bodypix": version("tf-bodypix"),
        "numpy": np.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
    }


def onednn_enabled() -> bool:
    """Whether TensorFlow in this process runs its oneDNN CPU kernels: TF_ENABLE_ONEDNN_OPTS as
    it was when TensorFlow loaded, else TensorFlow's default (Linux: on for CPUs with AVX512_VNNI,
    AVX512_BF16, AVX_VNNI or AMX, and Neoverse V1).
    """
    import tensorflow  # noqa: F401  (loads the runtime that decides)
    from tensorflow.python.util import _pywrap_util_port

    return bool(_pywrap_util_port.IsMklEnabled())


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


# ---- output ------------------------------------------------------------------------------------

def _cell(summary: Optional[dict]) -> str:
    return "" if summary is None else f"{summary['median_ms']:.1f} / {summary['p95_ms']:.1f}"


def format_table(rows: Sequence[dict]) -> str:
    """Markdown table: per model and frame size, median / p95 ms of each stage and the ratios."""
    stages = list(dict.fromkeys(stage for row in rows for stage in row["ours"]["stages"]))
    multi = any("ours_multi_person" in row for row in rows)
    header = (["model", "frame", "oneDNN"] + stages
              + ["network alone", "non-network / network", "ours end-to-end",
                 "tf-bodypix end-to-end", "ours / tf-bodypix", "throughput x"])
    if multi:
        header += ["persons decode (n)", "multi-person end-to-end"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        ours, theirs, ratio = row["ours"], row["tf_bodypix"], row["ratio"]
        cells = [row["model"], row["frame_size"], "on" if row["onednn"] else "off"]
        cells += [_cell(ours["stages"].get(stage)) for stage in stages]
        cells += [_cell(row[NETWORK_ALONE][END_TO_END]), f"{ratio['non_network_per_network']:.2f}",
                  _cell(ours[END_TO_END]), _cell(theirs[END_TO_END]), f"{ratio['end_to_end']:.2f}",
                  f"{ratio['throughput']:.2f}"]
        if multi:
            persons = row["ours_multi_person"]
            cells += [f"{_cell(persons['stages'].get('persons'))} ({persons.get('persons', 0)})",
                      _cell(persons[END_TO_END])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


CHART_LABELS = {
    "ours": "ours",
    "tf_bodypix": "tf-bodypix",
    "ours_multi_person": "ours multi-person",
}
"""Pipeline key of a report row -> its label in the chart, in drawing order."""
STAGE_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def draw_chart(rows: Sequence[dict], title: str, path: Path) -> None:
    """PNG of horizontal stacked bars: per model and frame, ours and tf-bodypix stage medians
    (ms).
    """
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1: fixed bitmap font
        font = ImageFont.load_default()
    # (label, [(stage, median ms)], end-to-end median ms, throughput ratio or None, first of row)
    bars = []
    for row in rows:
        pipelines = [name for name in CHART_LABELS if name in row]
        for pipeline in pipelines:
            label, summary = CHART_LABELS[pipeline], row[pipeline]
            segments = [(stage, value["median_ms"]) for stage, value in summary["stages"].items()]
            bars.append(
                (
                    f"{row['model']} {row['frame_size']} {label}",
                    segments,
                    summary[END_TO_END]["median_ms"],
                    row["ratio"]["throughput"] if pipeline == "ours" else None,
                    pipeline == pipelines[0],
                )
            )
    legend = list(dict.fromkeys(stage for _, segments, _, _, _ in bars for stage, _ in segments))
    colors = {stage: STAGE_COLORS[index % len(STAGE_COLORS)] for index, stage in enumerate(legend)}
    bar_height, gap, row_gap, left, right, top = 16, 4, 8, 400, 190, 50
    legend_rows = (len(legend) + 2) // 3
    width = 1300
    height = top + len(bars) * (bar_height + gap) + len(rows) * row_gap + 40 + legend_rows * 20
    scale = (width - left - right) / max(max(sum(ms for _, ms in segments), total)
                                         for _, segments, total, _, _ in bars)
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    draw.text((10, 10), title, fill="black", font=font)
    draw.text(
        (left, 30),
        "milliseconds per frame (median of each stage; label: end-to-end median)",
        fill=(80, 80, 80),
        font=font,
    )
    y = top
    for index, (label, segments, total, speedup, first_of_row) in enumerate(bars):
        if index and first_of_row:
            y += row_gap
        draw.text((10, y + 1), label, fill="black", font=font)
        x = left
        for stage, ms in segments:
            end = x + ms * scale
            draw.rectangle([x, y, max(end - 1, x), y + bar_height], fill=colors[stage])
            x = end
        text = f"{total:.1f} ms" + (
            f"  ({speedup:.2f}x tf-bodypix)" if speedup is not None else ""
        )
        draw.text((x + 6, y + 1), text, fill="black", font=font)
        y += bar_height + gap
    y += 20
    for index, stage in enumerate(legend):
        x = 10 + (index % 3) * 430
        row_y = y + (index // 3) * 20
        draw.rectangle([x, row_y + 2, x + 14, row_y + 14], fill=colors[stage])
        name = f"{stage} (tf-bodypix)" if stage in TF_BODYPIX_STAGES else stage
        draw.text((x + 20, row_y + 1), name, fill="black", font=font)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)


# ---- command -----------------------------------------------------------------------------------

def add_parser(subparsers) -> None:
    """Register `bench`."""
    parser = subparsers.add_parser(
        "bench",
        help="time each stage of our pipeline against tf-bodypix's on the same frames",
        description=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    models = add_model_arguments(parser, model_option=False)
    models.add_argument(
        "--models",
        default=DEFAULT_MODEL,
        metavar="NAMES",
        help=f"comma-separated model names (or model.json paths/URLs), or {ALL_LOCAL}: every "
        f"official model in the local --model-base-url folder (default: %(default)s)",
    )
    parser.add_argument(
        "--image",
        type=Path,
        metavar="PHOTO",
        help=f"photo resized to each frame size (default: $BODYPIX_SHARED_DIR or ../shared "
        f"/{SHARED_PHOTO}, else scikit-image's astronaut)",
    )
    parser.add_argument(
        "--sizes",
        type=frame_sizes,
        default=frame_sizes(DEFAULT_SIZES),
        metavar="WxH,...",
        help=f"frame sizes (default: {DEFAULT_SIZES})",
    )
    parser.add_argument("--iterations", type=positive_int, default=50, metavar="N",
                        help="timed iterations per model and size (default: %(default)s)")
    parser.add_argument("--warmup", type=non_negative_int, default=5, metavar="N",
                        help="discarded iterations first; 0 also drops the untimed runs before "
                             "each block (default: %(default)s)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the full report as JSON")
    parser.add_argument(
        "--plot", type=Path, metavar="PATH", help="write a PNG bar chart of the stage medians"
    )
    parser.add_argument("--effects", action="store_true",
                        help="time the anonymize methods and overlay effects against the "
                             "segmentation instead (no tf-bodypix)")
    add_settings_arguments(parser)
    parser.set_defaults(run=run_bench)



def run_bench(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    models = models_to_bench(args.models, args.model_base_url)
    image_name, photo = bench_photo(args.image)
    if args.effects:
        return run_effects_bench(args, settings, models, image_name, photo)
    rows = run_benchmark(models, args.sizes, photo, settings, args.iterations, args.warmup,
                         args.model_base_url, args.model_cache_dir, args.backend, _progress)
    report = {"image": image_name, "iterations": args.iterations, "warmup": args.warmup,
              "backend": args.backend, "internal_resolution": settings.resolution_fraction,
              "segmentation_threshold": settings.segmentation_threshold,
              "multi_person": settings.multi_person.enabled, "overlay_alpha": OVERLAY_ALPHA,
              "environment": environment(), "results": rows}
    print(format_table(rows))
    if args.json:
        write_text(args.json, json.dumps(report, indent=1) + "\n")
    if args.plot:
        try:
            draw_chart(rows, chart_title(report), args.plot)
        except OSError as error:
            raise CliError(f"cannot write {args.plot}: {error}") from None
    return 0


def run_effects_bench(args: argparse.Namespace, settings, models: Sequence[str], image_name: str,
                      photo: np.ndarray) -> int:
    """`bench --effects`: every model and size -> the table of cli.bench_effects (and --json)."""
    from bodypix_ros.cli.bench_effects import bench_effects_frame, format_effects_table
    from bodypix_ros.engine import BodyPixEngine

    if args.plot:
        raise UsageError("--plot draws the main bench only; drop it with --effects")
    rows = []
    for model in models:
        engine = BodyPixEngine.load(model, base_url=args.model_base_url,
                                    cache_dir=args.model_cache_dir, backend=args.backend)
        for width, height in args.sizes:
            _progress(f"{engine.model_name} {width}x{height}: effects, {args.warmup} warm-up + "
                      f"{args.iterations} iterations")
            timings = bench_effects_frame(engine, resize_frame(photo, (width, height)), settings,
                                          args.iterations, args.warmup, summarize,
                                          RUNS_PER_BLOCK)
            rows.append({"model": engine.model_name, "frame_size": f"{width}x{height}",
                         "effects": timings})
    print(format_effects_table(rows))
    if args.json:
        report = {"image": image_name, "iterations": args.iterations, "warmup": args.warmup,
                  "backend": args.backend, "environment": environment(), "results": rows}
        write_text(args.json, json.dumps(report, indent=1) + "\n")
    return 0


def chart_title(report: dict) -> str:
    """One line naming what a report measured: versions, backend, machine, resolution,
    iterations.
    """
    env = report["environment"]
    return (
        f"bodypix_ros {env['bodypix_ros']} ({report['backend']} backend) vs tf-bodypix "
        f"{env['tf_bodypix']}, TensorFlow {env['tensorflow']}, "
        f"{env['cpu_count']} CPUs ({env['cpu']}), "
        f"internal resolution {report['internal_resolution']}, {report['iterations']} iterations"
    )


def _progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)
