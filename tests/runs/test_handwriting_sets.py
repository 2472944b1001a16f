"""Handwriting sets: the ImageFolder layout on disk, and bad input refused with a
clear message without losing a sample already in the set."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from core.engine.handwriting import holdout_split, read_handwriting
from core.runs.handwriting_sets import MAX_SAMPLE_PIXELS, HandwritingError, HandwritingSet, check_set_name, list_sets
from tests.handwriting import PLACEMENTS, STYLES, canvas_strokes, render


def drawn(style: str = "7-plain", brush: int = 18) -> np.ndarray:
    return render(canvas_strokes(STYLES[style], PLACEMENTS["large-centred"]), brush)


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def zipped(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.fixture
def hw(tmp_path) -> HandwritingSet:
    s = HandwritingSet.create("alice", tmp_path, canvas=(280, 280), brush=18)
    s.add(7, drawn("7-plain"))
    s.add(1, drawn("1-plain"))
    return s


def test_samples_are_stored_in_the_imagefolder_layout_with_a_manifest(hw, tmp_path):
    files = sorted(p.relative_to(hw.path).as_posix() for p in hw.path.rglob("*.png"))
    assert [f.split("/")[0] for f in files] == ["1", "7"]
    assert hw.manifest["canvas"] == [280, 280] and hw.manifest["brush"] == 18 and hw.manifest["created_at"]
    assert hw.counts() == [0, 1, 0, 0, 0, 0, 0, 1, 0, 0]
    assert list_sets(tmp_path) == ["alice"]
    # stored as drawn (280x280), not preprocessed
    assert Image.open(next(hw.path.rglob("*.png"))).size == (280, 280)
    # the engine reads it back through the drawing path, labelled by folder name
    digits = read_handwriting(hw.path, 28)
    assert digits.images.shape == (2, 28, 28) and sorted(digits.labels.tolist()) == [1, 7]
    small = read_handwriting(hw.path, 16)  # laid out for a 16x16 model
    assert small.images.shape == (2, 16, 16) and small.sha256 == digits.sha256  # the files, not the layout


def test_the_hash_names_the_contents_and_delete_removes_samples_and_set(hw):
    before = hw.content_hash()
    sample = hw.add(3, drawn("3"))
    assert hw.content_hash() != before
    hw.delete_sample(sample.digit, sample.id)
    assert hw.content_hash() == before
    hw.delete()
    assert not hw.path.exists()


@pytest.mark.parametrize("name", ["a/b", "..", "../x", "x..y", "", " lead", "x" * 41, ".hidden", "a\\b", "a\nb"])
def test_set_names_that_could_be_paths_are_refused(name, tmp_path):
    with pytest.raises(HandwritingError, match="not a set name"):
        check_set_name(name)
    with pytest.raises(HandwritingError):
        HandwritingSet.create(name, tmp_path)
    assert list(tmp_path.iterdir()) == []


def refused(hw: HandwritingSet, action, match: str) -> None:
    before = hw.content_hash()
    with pytest.raises((HandwritingError, ValueError), match=match):
        action()
    assert hw.content_hash() == before and len(hw.samples()) == 2


def test_bad_samples_are_refused_and_nothing_is_lost(hw):
    refused(hw, lambda: hw.add(4, b"not an image at all"), "not an image")
    refused(hw, lambda: hw.add(10, drawn()), "not a digit")
    huge = Image.new("L", (4000, 4000))  # over MAX_SAMPLE_PIXELS, a few KB as PNG
    assert 4000 * 4000 > MAX_SAMPLE_PIXELS
    buf = io.BytesIO()
    huge.save(buf, format="PNG")
    refused(hw, lambda: hw.add(4, buf.getvalue()), "pixels")


def test_a_good_zip_imports_with_or_without_its_own_folder(hw):
    added = hw.import_zip(zipped({"bob/2/a.png": png(drawn("2-loop")), "bob/5/b.png": png(drawn("5"))}))
    assert sorted(s.digit for s in added) == [2, 5]
    added = hw.import_zip(zipped({"0/x.png": png(drawn("0")), "__MACOSX/._x": b"junk", "0/.DS_Store": b""}))
    assert [s.digit for s in added] == [0]
    assert hw.counts() == [1, 1, 1, 0, 0, 1, 0, 1, 0, 0]


@pytest.mark.parametrize("members, match", [
    ({"3/a.png": png(drawn("3")), "../../evil.png": png(drawn("3"))}, "outside the set"),
    ({"3/a.png": png(drawn("3")), "/etc/evil.png": png(drawn("3"))}, "outside the set"),
    ({"3/a.png": png(drawn("3")), "x/a.png": png(drawn("3"))}, "folder named 0-9"),
    ({"3/a.png": png(drawn("3")), "4/notes.txt": b"hello"}, "not an image file"),
    ({"3/a.png": png(drawn("3")), "4/b.png": b"garbage"}, "not an image"),
])
def test_a_bad_zip_is_refused_whole(hw, members, match):
    refused(hw, lambda: hw.import_zip(zipped(members)), match)


def test_a_zip_bomb_is_refused_before_it_unpacks(hw):
    bomb = zipped({f"{d}/{i}.png": b"\0" * (30 * 2**20) for d in range(2) for i in range(4)})  # 240 MB of zeros
    assert len(bomb) < 2 * 2**20
    refused(hw, lambda: hw.import_zip(bomb), "unpacks to over")
    refused(hw, lambda: hw.import_zip(b"PK\x03\x04 not really a zip"), "not a zip")


def test_folder_import_refuses_links_and_keeps_the_set(hw, tmp_path):
    src = tmp_path / "src"
    (src / "6").mkdir(parents=True)
    (src / "6" / "a.png").write_bytes(png(drawn("6")))
    (src / "6" / "link.png").symlink_to(src / "6" / "a.png")
    refused(hw, lambda: hw.import_folder(src), "link")
    (src / "6" / "link.png").unlink()
    assert [s.digit for s in hw.import_folder(src)] == [6]


def test_holdout_keeps_a_share_of_every_digit_aside():
    import torch
    labels = torch.arange(10).repeat_interleave(5)
    taught, held = holdout_split(labels, 0.2)
    assert torch.bincount(labels[held], minlength=10).tolist() == [1] * 10
    assert set(taught.tolist()).isdisjoint(held.tolist()) and len(taught) == 40
    assert len(holdout_split(labels, 0.0)[1]) == 0


def test_the_command_line_imports_a_zip_and_refuses_a_bad_one_in_one_line(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    good.write_bytes(zipped({"4/a.png": png(drawn("4-open")), "9/b.png": png(drawn("9-curved"))}))
    bad.write_bytes(zipped({"4/c.png": png(drawn("4-open")), "../../escape.png": png(drawn("4-open"))}))

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "core.handwriting", "--root", str(tmp_path / "sets"), *args],
                              cwd=root, capture_output=True, text=True)

    out = cli("import", "bob", str(good))
    assert out.returncode == 0 and "imported 2 samples" in out.stdout, out.stderr
    out = cli("import", "bob", str(bad))
    assert out.returncode == 2 and "outside the set" in out.stderr and len(out.stderr.splitlines()) == 1
    assert HandwritingSet(tmp_path / "sets" / "bob").counts() == [0, 0, 0, 0, 1, 0, 0, 0, 0, 1]
    assert not (tmp_path / "escape.png").exists()
