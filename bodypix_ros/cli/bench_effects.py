"""`bodypix-ros bench --effects`: what each privacy method and effect adds to a frame.

Per model and frame size, the baseline is `engine.segment` with part labels (what the node runs
for these outputs); each method is timed alone on that segmentation's result: `anonymize` of
persons and of faces by blur, pixelate and fill (default strength and margin), and the overlay
modes (parts for reference, bokeh, blur_parts, pixelate). Baseline and methods take turns in
blocks, as in the main bench, so machine noise hits all alike; the table puts each method's
median and p95 beside the baseline's and the ratio (baseline + method) / baseline.
"""

import time
from typing import Callable, Dict, List, Sequence

import numpy as np

from bodypix_ros.anonymize import METHODS, AnonymizeSettings, anonymize
from bodypix_ros.cli.common import OVERLAY_ALPHA
from bodypix_ros.render import render_overlay

BASELINE = "segment"
EFFECT_MODES = ("parts", "bokeh", "blur_parts", "pixelate")
"""Overlay modes timed (parts: the default overlay, for reference)."""


def method_runs(frame: np.ndarray, result) -> Dict[str, Callable[[], object]]:
    """Method name -> a call rendering it on `frame` from `result` (part labels included)."""
    runs = {}
    for target in ("persons", "faces"):
        for method in METHODS:
            settings = AnonymizeSettings(target=target, method=method)
            runs[f"anonymize {target} {method}"] = (
                lambda settings=settings: anonymize(frame, result, settings))
    for mode in EFFECT_MODES:
        runs[f"overlay {mode}"] = lambda mode=mode: render_overlay(frame, result, mode,
                                                                   OVERLAY_ALPHA)
    return runs


def bench_effects_frame(engine, frame: np.ndarray, settings, iterations: int, warmup: int,
                        summarize: Callable, block: int) -> Dict[str, dict]:
    """Baseline and every method on one frame -> {name: summarize(milliseconds)}.

    summarize: the main bench's (median and p95); block: timed runs before the next takes over.
    """
    result = engine.segment(frame, settings, part_labels=True)
    runs = {BASELINE: lambda: engine.segment(frame, settings, part_labels=True),
            **method_runs(frame, result)}
    for _ in range(warmup):
        for run in runs.values():
            run()
    samples: Dict[str, List[float]] = {name: [] for name in runs}
    while len(samples[BASELINE]) < iterations:
        count = min(block, iterations - len(samples[BASELINE]))
        for name, run in runs.items():
            for _ in range(count):
                started = time.perf_counter()
                run()
                samples[name].append((time.perf_counter() - started) * 1000.0)
    return {name: summarize(values) for name, values in samples.items()}


def format_effects_table(rows: Sequence[dict]) -> str:
    """Markdown: per model and frame, each method's median / p95 ms beside the baseline's.

    The last column is the ratio (baseline + method) / baseline of the medians.
    """
    lines = ["| model | frame | method | method ms (median / p95) | baseline segment ms "
             "(median / p95) | (segment + method) / segment |", "|---|---|---|---|---|---|"]
    for row in rows:
        timings = row["effects"]
        baseline = timings[BASELINE]
        for name, summary in timings.items():
            if name == BASELINE:
                continue
            ratio = (baseline["median_ms"] + summary["median_ms"]) / baseline["median_ms"]
            lines.append(f"| {row['model']} | {row['frame_size']} | {name} | "
                         f"{summary['median_ms']:.2f} / {summary['p95_ms']:.2f} | "
                         f"{baseline['median_ms']:.1f} / {baseline['p95_ms']:.1f} | {ratio:.3f} |")
    return "\n".join(lines)
