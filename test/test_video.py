"""`bodypix-ros video` run in-process on a tiny video written from the reference photos."""

import cv2
import numpy as np
import pytest
from conftest import REFERENCE_STEMS, read_png, reference_input, run_cli
from PIL import Image

from bodypix_ros.engine import BodyPixEngine
from bodypix_ros.render import render_overlay
from bodypix_ros.settings import SegmentationSettings

FRAME_SIZE = (320, 240)
"""(width, height) of the test video."""
FPS = 6.0


@pytest.fixture(scope="module")
def input_video(tmp_path_factory):
    """A 4-frame MJPG video of the reference photos, downscaled to FRAME_SIZE."""
    path = tmp_path_factory.mktemp("video") / "people.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), FPS, FRAME_SIZE)
    assert writer.isOpened()
    for stem in REFERENCE_STEMS:
        rgb = np.asarray(Image.fromarray(reference_input(stem)).resize(FRAME_SIZE, Image.BILINEAR))
        writer.write(np.ascontiguousarray(rgb[:, :, ::-1]))
    writer.release()
    return path


def decoded_frames(path):
    """Every frame of a video as OpenCV decodes it, (H, W, 3) uint8 RGB."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = capture.read()
        if not ok:
            break
        frames.append(bgr[:, :, ::-1])
    fps = capture.get(cv2.CAP_PROP_FPS)
    capture.release()
    return frames, fps


def run_video(capsys, *arguments):
    """`bodypix-ros video ARGUMENTS` on the shared models -> (status, stderr lines)."""
    status, _, stderr = run_cli(capsys, "video", *arguments)
    return status, stderr


def test_every_other_frame_becomes_overlay_video_and_pngs(input_video, engine, capsys, tmp_path):
    status, stderr = run_video(
        capsys,
        input_video,
        "--output-dir",
        tmp_path,
        "--every",
        "2",
        "--frames",
        "--codec",
        "MJPG",
        "--progress-every",
        "1",
    )

    assert status == 0, stderr
    inputs, _ = decoded_frames(input_video)
    overlays, fps = decoded_frames(tmp_path / "people.overlay.avi")
    assert len(overlays) == 2 and fps == pytest.approx(FPS / 2)
    for overlay_frame, index in zip(overlays, (0, 2)):
        frame = inputs[index]
        assert overlay_frame.shape == frame.shape
        result = engine.segment(frame, SegmentationSettings())
        person = result.person_mask == 255
        assert 0.05 < person.mean() < 0.95
        np.testing.assert_array_equal(
            read_png(tmp_path / f"people.{index:06d}.mask.png"), result.person_mask
        )
        np.testing.assert_array_equal(read_png(tmp_path / f"people.{index:06d}.overlay.png"),
                                      render_overlay(frame, result, "parts", 0.7))
        change = np.abs(overlay_frame.astype(int) - frame).sum(axis=-1)
        assert np.median(change[person]) > 5 * np.median(change[~person]) + 20
    assert sorted(p.name for p in tmp_path.glob("people.0*")) == sorted(
        f"people.{index:06d}.{kind}.png"
        for index in (0, 2)
        for kind in ("mask", "part_labels", "overlay")
    )
    assert [line.split()[:3] for line in stderr[:-1]] == [
        ["[1/2]", "frame", "0"],
        ["[2/2]", "frame", "2"],
    ]
    assert stderr[-1].startswith("2 frames segmented (every 2)")


def test_max_frames_and_mp4v(input_video, capsys, tmp_path):
    status, stderr = run_video(capsys, input_video, "--output-dir", tmp_path, "--max-frames", "3",
                               "--overlay-mode", "mask")

    assert status == 0, stderr
    overlays, fps = decoded_frames(tmp_path / "people.overlay.mp4")
    assert (
        len(overlays) == 3
        and overlays[0].shape == FRAME_SIZE[::-1] + (3,)
        and fps == pytest.approx(FPS)
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.overlay.mp4"]


def test_unreadable_inputs(capsys, tmp_path):
    status, stderr = run_video(capsys, tmp_path / "absent.mp4", "--output-dir", tmp_path / "out")
    assert status == 2 and stderr == [
        f"bodypix-ros: error: no such file: {tmp_path / 'absent.mp4'}"
    ]

    not_a_video = tmp_path / "notes.mp4"
    not_a_video.write_text("not a video")
    status, stderr = run_video(capsys, not_a_video, "--output-dir", tmp_path / "out")
    assert status == 1 and stderr[-1].startswith(
        f"bodypix-ros: error: cannot open video {not_a_video}"
    )
    assert not (tmp_path / "out").exists()


def test_decodes_only_what_the_outputs_need(input_video, capsys, monkeypatch, tmp_path):
    requests = []
    real_decode = BodyPixEngine.decode

    def recording_decode(self, run, settings, **stages):
        requests.append(stages)
        return real_decode(self, run, settings, **stages)

    monkeypatch.setattr(BodyPixEngine, "decode", recording_decode)
    common = ["--output-dir", tmp_path, "--max-frames", "1", "--multi-person"]
    assert run_video(capsys, input_video, *common, "--overlay-mode", "mask")[0] == 0
    assert run_video(capsys, input_video, *common, "--overlay-mode", "parts")[0] == 0
    assert run_video(capsys, input_video, *common, "--overlay-mode", "mask", "--frames")[0] == 0
    assert requests == [
        {"part_labels": False, "instances": False},
        {"part_labels": True, "instances": False},
        {"part_labels": True, "instances": True},
    ]


def test_an_unreadable_frame_is_skipped_and_the_rest_segmented(input_video, capsys, tmp_path):
    data = bytearray(input_video.read_bytes())
    jpeg_starts = [index for index in range(len(data) - 2)
                   if data[index:index + 3] == b"\xff\xd8\xff"]
    assert len(jpeg_starts) == len(REFERENCE_STEMS)
    end = jpeg_starts[2] - 16  # before the AVI chunk header of frame 2
    data[jpeg_starts[1]:end] = bytes(end - jpeg_starts[1])  # frame 1 is no JPEG any more
    damaged = tmp_path / "damaged.avi"
    damaged.write_bytes(data)

    status, stderr = run_video(capsys, damaged, "--output-dir", tmp_path / "out", "--frames",
                               "--overlay-mode", "mask")

    assert status == 1
    errors = [line for line in stderr if line.startswith("bodypix-ros: error:")]
    assert len(errors) == 1 and f"cannot read frame 1 of {damaged}" in errors[0]
    indexes = [index for index in range(len(REFERENCE_STEMS)) if index != 1]
    assert sorted(p.name for p in (tmp_path / "out").glob("damaged.0*.mask.png")) == [
        f"damaged.{index:06d}.mask.png" for index in indexes]
    overlays, _ = decoded_frames(tmp_path / "out" / "damaged.overlay.mp4")
    assert len(overlays) == len(indexes)
    assert "1 unreadable frame(s) skipped" in stderr[-1]


def test_a_video_over_the_pixel_budget_is_refused_before_decoding(input_video, capsys, tmp_path):
    budget = FRAME_SIZE[0] * FRAME_SIZE[1] - 1
    status, stderr = run_video(capsys, input_video, "--output-dir", tmp_path / "out",
                               "--max-input-pixels", budget)
    assert status == 1 and len(stderr) == 1 and "exceeds the pixel budget" in stderr[0]
    assert not (tmp_path / "out").exists()


def test_anonymize_writes_the_anonymized_video(input_video, engine, capsys, tmp_path):
    from bodypix_ros.anonymize import AnonymizeSettings, anonymize

    status, stderr = run_video(capsys, input_video, "--output-dir", tmp_path, "--max-frames", "2",
                               "--codec", "MJPG", "--anonymize", "--anonymize-method", "fill")
    assert status == 0, stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["people.anonymized.avi"]
    inputs, _ = decoded_frames(input_video)
    written, _ = decoded_frames(tmp_path / "people.anonymized.avi")
    assert len(written) == 2
    for frame, output in zip(inputs, written):
        expected = anonymize(frame, engine.segment(frame), AnonymizeSettings(method="fill"))
        covered = (expected != frame).any(axis=2)
        assert covered.mean() > 0.05
        assert np.abs(output.astype(int) - expected).mean() < 4  # MJPG is lossy
        assert output[covered].mean() < 12  # black where persons were
