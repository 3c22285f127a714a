"""`bodypix-ros segment` run in-process on the reference photos with the shared models."""

import argparse
import json
import sys

import cv2
import numpy as np
import pytest
from conftest import ONE_PERSON, REFERENCE, read_png, reference_input, run_cli
from hostile_inputs import flat_png, jpeg_declaring, png_chunk, png_chunk_length_bomb
from PIL import Image

from bodypix_ros.cli import common as cli
from bodypix_ros.cli.main import main
from bodypix_ros.model.names import DEFAULT_MODEL
from bodypix_ros.parts import KEYPOINT_NAMES


def segment(capsys, *arguments):
    """Run `bodypix-ros segment ARGUMENTS` on the shared models -> (status, stdout lines, stderr
    lines)."""
    return run_cli(capsys, "segment", *arguments)


def error_lines(lines):
    return [line for line in lines if line.startswith("bodypix-ros")]


def check_pngs(out_dir, stem, frame):
    """The documented encodings of STEM.mask/part_labels/overlay.png; returns the (H, W) person
    mask."""
    with Image.open(out_dir / f"{stem}.mask.png") as mask_image, \
            Image.open(out_dir / f"{stem}.part_labels.png") as parts_image, \
            Image.open(out_dir / f"{stem}.overlay.png") as overlay_image:
        assert (mask_image.mode, parts_image.mode, overlay_image.mode) == ("L", "L", "RGB")
        mask, parts, overlay = map(np.array, (mask_image, parts_image, overlay_image))
    assert mask.shape == parts.shape == frame.shape[:2] and overlay.shape == frame.shape
    assert set(np.unique(mask)) <= {0, 255}
    assert 0.02 < np.mean(mask == 255) < 0.9
    assert parts.max() <= 24 and np.array_equal(parts > 0, mask == 255)
    assert np.array_equal(overlay[mask == 0], frame[mask == 0])
    assert np.mean(np.any(overlay[mask == 255] != frame[mask == 255], axis=-1)) > 0.9
    return mask


def agreement_with_reference(mask, stem):
    reference = read_png(REFERENCE / DEFAULT_MODEL / stem / "person_mask.png")
    return np.mean((mask == 255) == (reference == 255))


def test_segment_folder_writes_documented_pngs(capsys, tmp_path):
    stems = ("three_people", "one_person_karolina-grabowska-4378882")
    frames = {stem: reference_input(stem) for stem in stems}
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(frames[stems[0]]).save(inputs / f"{stems[0]}.png")
    alpha = np.full(frames[stems[1]].shape[:2] + (1,), 128, np.uint8)
    Image.fromarray(np.concatenate([frames[stems[1]], alpha], axis=-1)).save(
        inputs / f"{stems[1]}.png"
    )
    gray = np.array(Image.fromarray(frames[stems[0]]).convert("L"))
    Image.fromarray(gray).save(inputs / "gray.png")
    (inputs / "notes.txt").write_text("not an image")
    out = tmp_path / "out"

    status, stdout, stderr = segment(capsys, inputs, "--output-dir", out, "--timing")

    assert status == 0, stderr
    for stem in stems:  # RGB and RGBA (alpha dropped) see the reference pixels
        mask = check_pngs(out, stem, frames[stem])
        assert agreement_with_reference(mask, stem) > 0.97
    check_pngs(out, "gray", np.repeat(gray[..., None], 3, axis=-1))
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}.{kind}.png"
        for stem in (*stems, "gray")
        for kind in ("mask", "part_labels", "overlay")
    )
    progress = [line for line in stderr if line.startswith("[")]
    assert [line.split()[:2] for line in progress] == [
        ["[1/3]", "gray.png"], ["[2/3]", f"{stems[1]}.png"], ["[3/3]", f"{stems[0]}.png"]]
    assert all(line.endswith(" ms") for line in progress)
    assert len(stdout) == 3 and all("network" in line and "total" in line for line in stdout)


def test_a_folder_with_bad_images_writes_every_good_one_and_exits_1(capsys, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    small = np.asarray(Image.fromarray(reference_input("three_people")).resize((160, 130)))
    for stem in ("a_good", "z_good"):
        Image.fromarray(small).save(inputs / f"{stem}.png")
    ok, good_png = cv2.imencode(".png", small)
    corrupt_data = good_png.tobytes()[:33] + png_chunk(b"IDAT", b"not zlib data") + png_chunk(
        b"IEND", b"")  # a sound chunk structure whose pixels cannot be inflated
    bad = {"bomb_jpeg.jpg": jpeg_declaring(8000, 8000),
           "bomb_16_bytes.png": png_chunk_length_bomb(),
           "bomb_13000.png": flat_png(13000, 13000), "corrupt_data.png": corrupt_data,
           "text.png": b"not an image"}
    for name, data in bad.items():
        (inputs / name).write_bytes(data)
    out = tmp_path / "out"

    status, _, stderr = segment(capsys, inputs, "--output-dir", out)

    assert status == 1
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{stem}.{kind}.png" for stem in ("a_good", "z_good")
        for kind in ("mask", "part_labels", "overlay"))
    errors = error_lines(stderr)
    assert len(errors) == len(bad)
    assert all(line.startswith("bodypix-ros: error: ") for line in errors)
    for name in bad:
        assert sum(name in line for line in errors) == 1, name
    budget = [line for line in errors if "exceeds the pixel budget" in line]
    assert sorted(line.split()[3] for line in budget) == sorted(
        str(inputs / name) for name in ("bomb_jpeg.jpg", "bomb_13000.png"))
    assert stderr[-1] == (f"wrote 6 files for 2 image(s) to {out}; "
                          f"5 of 7 could not be read (named above)")


def test_multi_person_writes_instances_and_persons(capsys, tmp_path):
    stem = "three_people"
    frame = reference_input(stem)
    source = REFERENCE / "inputs" / f"{stem}.png"

    status, _, stderr = segment(capsys, source, "--output-dir", tmp_path, "--multi-person",
                                "--max-detections", 5)

    assert status == 0, stderr
    mask = check_pngs(tmp_path, stem, frame)
    with Image.open(tmp_path / f"{stem}.instances.png") as image:
        assert image.mode == "L"
        instances = np.array(image)
    record = json.loads((tmp_path / f"{stem}.persons.json").read_text())
    persons = record["persons"]
    assert (record["width"], record["height"]) == (frame.shape[1], frame.shape[0])
    assert 1 <= len(persons) <= 5 and instances.max() == len(persons)
    assert np.all(mask[instances > 0] == 255)
    for index, person in enumerate(persons, start=1):
        assert person["id"] == index and 0.0 <= person["score"] <= 1.0
        assert person["pixel_count"] == np.count_nonzero(instances == index)
        assert [keypoint["name"] for keypoint in person["keypoints"]] == list(KEYPOINT_NAMES)
        if person["pixel_count"]:
            rows, cols = np.nonzero(instances == index)
            assert person["box"] == [cols.min(), rows.min(), cols.max(), rows.max()]


def test_demo_image_without_arguments(capsys, tmp_path):
    astronaut = pytest.importorskip("skimage.data").astronaut()
    status, _, stderr = segment(capsys, "--output-dir", tmp_path, "--overlay-mode", "mask")
    assert status == 0, stderr
    check_pngs(tmp_path, "astronaut", astronaut)


def test_demo_without_scikit_image_says_how_to_install(capsys, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    status, _, stderr = segment(capsys, "--output-dir", tmp_path)
    assert status == 1 and len(stderr) == 1
    assert "pip install scikit-image" in stderr[0]


def test_unknown_model_is_one_line(capsys, tmp_path):
    source = REFERENCE / "inputs" / "three_people.png"
    status, _, stderr = segment(capsys, source, "--output-dir", tmp_path / "out",
                                "--model", "mobilenet_quant2_075_strid16")
    assert status == 1 and len(stderr) == 1
    assert (
        stderr[0].startswith("bodypix-ros: error: unknown model") and "did you mean" in stderr[0]
    )
    assert not any((tmp_path / "out").glob("*.png"))


@pytest.mark.parametrize("content, status, message", [
    (b"\x89PNG\r\n\x1a\n broken", 1, "cannot read image"), (None, 2, "no such file")])
def test_unreadable_or_missing_image_is_one_line(capsys, tmp_path, content, status, message):
    image = tmp_path / "photo.png"
    if content is not None:
        image.write_bytes(content)
    result, _, stderr = segment(capsys, image, "--output-dir", tmp_path / "out")
    assert result == status and len(stderr) == 1
    assert (
        stderr[0].startswith("bodypix-ros: error: ")
        and message in stderr[0]
        and "photo.png" in stderr[0]
    )


@pytest.mark.parametrize("options, mentioned", [
    (["--segmentation-threshold", "1.5"], "segmentation_threshold"),
    (["--internal-resolution", "huge"], "internal_resolution"),
    (["--part-filter", "left_face", "tail"], "tail"),
    (["--multi-person", "--refine-steps", "0"], "refine_steps"),
    (["--overlay-mode", "persons"], "--multi-person"),
])
def test_bad_setting_is_one_line_usage_error(capsys, tmp_path, options, mentioned):
    source = REFERENCE / "inputs" / "three_people.png"
    status, _, stderr = segment(capsys, source, "--output-dir", tmp_path, *options)
    assert status == 2 and len(stderr) == 1
    assert stderr[0].startswith("bodypix-ros: error: ") and mentioned in stderr[0]


@pytest.mark.parametrize("options", [["--overlay-alpha", "2"], ["--max-detections", "many"], []])
def test_malformed_options_exit_2_with_one_line(capsys, tmp_path, options):
    output = (
        [] if not options else ["--output-dir", str(tmp_path)]
    )  # [] omits the required --output-dir
    with pytest.raises(SystemExit) as caught:
        main(["segment", *output, *options])
    stderr = capsys.readouterr().err.splitlines()
    assert (
        caught.value.code == 2
        and len(stderr) == 1
        and stderr[0].startswith("bodypix-ros: error: ")
    )


@pytest.mark.parametrize("parse, good, bad", [
    (cli.positive_int, {"1": 1, "12": 12}, ["0", "-3", "1.5", "x", ""]),
    (cli.non_negative_int, {"0": 0, "7": 7}, ["-1", "2.0", "nan"]),
    (cli.positive_float, {"0.5": 0.5, "30": 30.0}, ["0", "-1", "nan", "inf", "x"]),
    (cli.non_negative_float, {"0": 0.0, "2.5": 2.5}, ["-0.1", "nan", "inf"]),
    (cli.unit_interval, {"0": 0.0, "1": 1.0, "0.7": 0.7}, ["1.5", "-0.1", "nan", "x"]),
])
def test_number_option_types_refuse_out_of_range_and_non_finite(parse, good, bad):
    assert {text: parse(text) for text in good} == good
    for text in bad:
        with pytest.raises(argparse.ArgumentTypeError, match="is not"):
            parse(text)


def test_segment_anonymize_writes_the_covered_image(capsys, tmp_path, engine):
    from bodypix_ros.anonymize import AnonymizeSettings, anonymize

    frame = reference_input(ONE_PERSON)
    Image.fromarray(frame).save(tmp_path / "person.png")
    out = tmp_path / "out"
    status, _, stderr = segment(capsys, tmp_path / "person.png", "--output-dir", out,
                                "--anonymize", "--anonymize-target", "faces",
                                "--anonymize-method", "pixelate", "--anonymize-margin", "4")
    assert status == 0, stderr
    written = read_png(out / "person.anonymized.png")
    settings = AnonymizeSettings(target="faces", method="pixelate", margin=4)
    np.testing.assert_array_equal(written, anonymize(frame, engine.segment(frame), settings))
    assert (written != frame).any() and (written == frame).mean() > 0.8
    assert sorted(p.name for p in out.iterdir()) == [
        f"person.{kind}.png" for kind in ("anonymized", "mask", "overlay", "part_labels")]
