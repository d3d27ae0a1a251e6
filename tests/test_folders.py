"""cnnlib.folders: the scan and the streaming pipeline, on generated folder trees with
every kind of bad input a learner's own folder holds."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnnlib import folders
from cnnlib.errors import ImageFolderError

from .conftest import write_jpeg

RED, GREEN = (220, 30, 30), (30, 200, 30)


def messy_tree(root):
    """Two classes with one good JPEG each plus every kind of junk a real folder holds."""
    write_jpeg(root / "cat" / "a.jpg", color=RED)
    write_jpeg(root / "cat" / "b.jpg", color=RED)
    write_jpeg(root / "cat" / "grey.jpg", color=RED, mode="L")                 # greyscale
    write_jpeg(root / "cat" / "alpha.png", color=RED, mode="RGBA", fmt="PNG")  # RGBA PNG
    write_jpeg(root / "dog" / "c.png", color=GREEN, fmt="PNG")                 # PNG
    write_jpeg(root / "dog" / "nested" / "deep" / "d.jpg", color=GREEN)        # nested image
    (root / "dog" / "notes.txt").write_text("not an image")                    # text file
    (root / "dog" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0garbage")       # corrupt JPEG
    good = (root / "cat" / "a.jpg").read_bytes()
    (root / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 2])       # truncated JPEG
    (root / "dog" / "nested" / "junk.bin").write_bytes(b"\x00" * 10)           # nested junk
    (root / "dog" / ".DS_Store").write_bytes(b"\x00\x01")                      # hidden file
    (root / "README.md").write_text("stray file at the top")                   # outside classes
    return root


# --------------------------------------------------------------------------- scan
def test_scan_counts_and_skips_every_bad_file(tmp_path):
    scan = folders.scan_image_folder(messy_tree(tmp_path / "data"))
    assert scan.class_names == ["cat", "dog"]
    assert scan.counts == {"cat": 4, "dog": 2}
    skipped = {p.name: why for p, why in scan.skipped}
    assert set(skipped) == {"notes.txt", "broken.jpg", "truncated.jpg", "junk.bin", ".DS_Store",
                            "README.md"}
    assert "not an image" in skipped["notes.txt"]
    assert "unreadable" in skipped["broken.jpg"] and "unreadable" in skipped["truncated.jpg"]
    assert scan.modes == {"RGB": 4, "L": 1, "RGBA": 1}
    text = scan.summary()
    assert "6 images in 2 classes" in text and "skipped 6 file(s)" in text
    assert "dog/notes.txt" in text and "cat/truncated.jpg" in text


@pytest.mark.parametrize("layout, match", [
    ("missing", "is not a folder"),
    ("flat", "no class sub-folders"),
    ("one_class", "only one class"),
    ("empty_class", r"\['dog'\] .* hold no usable image"),
    ("only_junk_class", r"\['dog'\] .* hold no usable image .*skipped"),
])
def test_scan_layout_errors_are_clear(tmp_path, layout, match):
    root = tmp_path / "data"
    if layout == "flat":
        write_jpeg(root / "a.jpg")
        write_jpeg(root / "b.jpg")
    elif layout == "one_class":
        write_jpeg(root / "cat" / "a.jpg")
    elif layout in ("empty_class", "only_junk_class"):
        write_jpeg(root / "cat" / "a.jpg")
        (root / "dog").mkdir()
        if layout == "only_junk_class":
            (root / "dog" / "x.txt").write_text("junk")
    with pytest.raises(ImageFolderError, match=match):
        folders.scan_image_folder(root)


def test_scan_with_explicit_class_names_checks_they_exist(tmp_path):
    root = messy_tree(tmp_path / "data")
    scan = folders.scan_image_folder(root, class_names=["dog", "cat"])
    assert scan.counts == {"dog": 2, "cat": 4}
    with pytest.raises(ImageFolderError, match="lacks the class folders"):
        folders.scan_image_folder(root, class_names=["cat", "bird"])


# --------------------------------------------------------------------------- subset rule
def distinct_pngs(folder, n, start=0, size=(2, 2)):
    """``n`` tiny PNGs with different bytes (pixel values from the index) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        Image.new("RGB", size, (i % 256, (i // 256) % 256, 7)).save(folder / f"_{i % 10}_{i:04d}.png")


def lowest_sha256(folder, n):
    import hashlib
    digests = sorted((hashlib.sha256(f.read_bytes()).hexdigest(), f.name) for f in folder.iterdir())
    return sorted(name for _, name in digests[:n])


def test_per_class_keeps_the_files_whose_sha256_sorts_lowest(tmp_path):
    root = tmp_path / "TRAIN"
    distinct_pngs(root / "a", 12)
    distinct_pngs(root / "b", 9, start=100)
    scan = folders.scan_image_folder(root, per_class=5)
    assert scan.counts == {"a": 5, "b": 5}
    for cls in ("a", "b"):                                  # the rule, recomputed independently
        kept = [p.name for p, y in zip(scan.files, scan.labels) if scan.class_names[y] == cls]
        assert kept == lowest_sha256(root / cls, 5)         # and listed in path order
    assert scan.per_class == 5 and scan.left_out == {"a": 7, "b": 4}
    assert scan.modes == {"RGB": 10} and scan.sizes == {(2, 2): 10}   # the kept images only
    assert scan.skipped == []


def test_per_class_replaces_an_unreadable_file_by_the_next_digest(tmp_path):
    import hashlib
    root = tmp_path / "TRAIN"
    distinct_pngs(root / "a", 6)
    distinct_pngs(root / "b", 3, start=50)
    # a corrupt file whose digest sorts first: reported, and the 4th lowest image takes its place
    for k in range(100_000):
        junk = f"junk{k}".encode()
        if hashlib.sha256(junk).hexdigest() < min(hashlib.sha256(f.read_bytes()).hexdigest()
                                                   for f in (root / "a").iterdir()):
            break
    (root / "a" / "broken.png").write_bytes(junk)
    scan = folders.scan_image_folder(root, per_class=3)
    assert [p.name for p, _ in scan.skipped] == ["broken.png"]
    assert "unreadable" in scan.skipped[0][1]
    expected = [n for n in lowest_sha256(root / "a", 4) if n != "broken.png"]
    assert [p.name for p, y in zip(scan.files, scan.labels) if y == 0] == expected
    assert scan.left_out == {"a": 3, "b": 0}


def test_per_class_at_or_above_the_count_scans_like_no_cap(tmp_path):
    root = messy_tree(tmp_path / "data")
    plain = folders.scan_image_folder(root)
    for cap in (5, 1000):                  # each class folder holds 5 non-hidden files
        capped = folders.scan_image_folder(root, per_class=cap)
        assert capped.files == plain.files and capped.labels == plain.labels
        assert capped.modes == plain.modes and capped.sizes == plain.sizes
        assert capped.skipped == plain.skipped and sum(capped.left_out.values()) == 0
        assert capped.summary() == plain.summary()


@pytest.mark.parametrize("bad", [0, -3, True, 2.5, "800"])
def test_per_class_must_be_a_positive_integer(tmp_path, bad):
    with pytest.raises(ValueError, match="per_class must be a positive integer"):
        folders.scan_image_folder(messy_tree(tmp_path / "data"), per_class=bad)


def test_a_full_kaggle_train_gives_the_courses_800_per_class(tmp_path):
    from cnnlib import datasets
    assert datasets.BLOOD_CELL_TRAIN_PER_CLASS == 800
    root = tmp_path / "TRAIN"
    distinct_pngs(root / "EOSINOPHIL", 803, size=(1, 1))
    distinct_pngs(root / "NEUTROPHIL", 812, start=1000, size=(1, 1))
    scan = folders.scan_image_folder(root, per_class=datasets.BLOOD_CELL_TRAIN_PER_CLASS)
    assert scan.counts == {"EOSINOPHIL": 800, "NEUTROPHIL": 800}
    assert scan.left_out == {"EOSINOPHIL": 3, "NEUTROPHIL": 12}
    assert [p.name for p, y in zip(scan.files, scan.labels) if y == 1] == lowest_sha256(root / "NEUTROPHIL", 800)


# --------------------------------------------------------------------------- pipeline
def test_pipeline_streams_every_good_image_and_never_a_bad_one(tmp_path):
    scan = folders.scan_image_folder(messy_tree(tmp_path / "data"))
    ds = folders.image_dataset(scan, image_size=(12, 16), batch_size=4, shuffle=False)
    assert ds.class_names == ["cat", "dog"]
    assert len(ds.file_paths) == 6
    xs, ys = zip(*[(x.numpy(), y.numpy()) for x, y in ds])
    x, y = np.concatenate(xs), np.concatenate(ys)
    assert x.shape == (6, 12, 16, 3) and x.dtype == np.float32
    assert y.tolist() == [0, 0, 0, 0, 1, 1]
    assert 0 <= x.min() and x.max() <= 255
    # greyscale and RGBA inputs come out as 3-channel colour, with their colour kept
    grey = np.array([p.endswith("grey.jpg") for p in ds.file_paths])
    red = x[(y == 0) & ~grey].mean(axis=(1, 2))            # a.jpg, alpha.png (RGBA), b.jpg
    assert len(red) == 3 and np.all(red[:, 0] > 150) and np.all(red[:, 1] < 90)
    channels = x[grey].mean(axis=(0, 1, 2))
    assert np.allclose(channels, channels[0], atol=1)      # greyscale: R = G = B


def test_pipeline_two_epochs_run_and_shuffle_is_seeded(tmp_path):
    root = tmp_path / "data"
    for i in range(10):
        write_jpeg(root / "a" / f"{i}.jpg", color=(i * 20, 0, 0))
        write_jpeg(root / "b" / f"{i}.png", color=(0, i * 20, 0), fmt="PNG")

    def order(seed):
        ds = folders.image_dataset(root, image_size=(8, 8), batch_size=5, seed=seed)
        return [np.concatenate([x.numpy()[:, 0, 0, :2].ravel() for x, _ in ds]) for _ in range(2)]

    first, again, other = order(0), order(0), order(1)
    np.testing.assert_array_equal(first[0], again[0])          # same seed, same order
    np.testing.assert_array_equal(first[1], again[1])
    assert not np.array_equal(first[0], first[1])               # reshuffled each epoch
    assert not np.array_equal(first[0], other[0])               # another seed, another order


def test_a_pass_moves_a_seeded_shuffle_on_and_a_twin_starts_from_the_first_order(tmp_path):
    """What notebook 07 relies on: every pass over a seeded dataset, one made only to time it
    included, moves its shuffle on to the next order; a twin made by the same call starts from
    the first order, and reads the file cache that the pass filled."""
    root = tmp_path / "data"
    for i in range(10):
        write_jpeg(root / "a" / f"{i}.jpg", color=(i * 20, 0, 0))
        write_jpeg(root / "b" / f"{i}.jpg", color=(0, i * 20, 0))
    kw = dict(image_size=(8, 8), batch_size=5, seed=0, cache=str(tmp_path / "cache" / "train"))

    def one_pass(ds):
        return np.concatenate([x.numpy()[:, 0, 0, :2].ravel() for x, _ in ds])

    timed = folders.image_dataset(root, **kw)
    twin = folders.image_dataset(root, **kw)          # made before the cache exists, like train_ds
    first = one_pass(timed)                           # the timing pass: fills the cache
    assert not np.array_equal(one_pass(timed), first)  # the same object moved on to its second order
    for path in root.rglob("*.jpg"):                  # new pixels on disk: only the cache holds the old
        write_jpeg(path, color=(255, 255, 255))
    np.testing.assert_array_equal(one_pass(twin), first)


def test_validation_split_is_complementary_and_binary_labels(tmp_path):
    root = tmp_path / "data"
    for i in range(10):
        write_jpeg(root / "a" / f"{i}.jpg")
        write_jpeg(root / "b" / f"{i}.jpg", color=GREEN)
    kw = dict(image_size=(8, 8), batch_size=None, validation_split=0.3, seed=3, label_mode="binary")
    tr = folders.image_dataset(root, subset="training", **kw)
    va = folders.image_dataset(root, subset="validation", **kw)
    assert len(va.file_paths) == 6 and len(tr.file_paths) == 14
    assert not set(tr.file_paths) & set(va.file_paths)
    x, y = next(iter(tr))
    assert x.shape == (8, 8, 3) and y.shape == (1,) and y.dtype.name == "float32"


def test_file_cache_and_max_per_class(tmp_path):
    scan = folders.scan_image_folder(messy_tree(tmp_path / "data"))
    cache = tmp_path / "cache" / "train"
    ds = folders.image_dataset(scan, image_size=(8, 8), batch_size=2, cache=str(cache),
                               max_per_class=1, shuffle=False)
    assert sum(len(y) for _, y in ds) == 2
    assert list(cache.parent.glob("train*"))       # the cache files were written
    assert sum(len(y) for _, y in ds) == 2         # second pass reads the cache


def test_file_cache_from_another_size_is_never_read_back(tmp_path):
    scan = folders.scan_image_folder(messy_tree(tmp_path / "data"))
    cache = str(tmp_path / "cache" / "train")
    for size in [(8, 8), (6, 10)]:                 # same cache argument, two sizes
        ds = folders.image_dataset(scan, image_size=size, batch_size=None, cache=cache, shuffle=False)
        shapes = {tuple(x.shape) for x, _ in ds}
        assert shapes == {(*size, 3)}
    assert len({p.name.split(".")[0] for p in (tmp_path / "cache").iterdir()}) == 2


def test_shuffle_buffer_holds_every_image_only_when_cached_in_memory(tmp_path, monkeypatch):
    import tensorflow as tf
    seen = []
    real = tf.data.Dataset.shuffle
    monkeypatch.setattr(tf.data.Dataset, "shuffle",
                        lambda self, buffer_size, **kw: seen.append(buffer_size) or real(self, buffer_size, **kw))
    monkeypatch.setattr(folders, "SHUFFLE_BUFFER", 2)
    scan = folders.scan_image_folder(messy_tree(tmp_path / "data"))
    n = len(scan.files)
    for cache in (True, False, str(tmp_path / "c")):
        ds = folders.image_dataset(scan, image_size=(8, 8), batch_size=None, cache=cache, seed=1)
        assert sorted(int(y) for _, y in ds) == sorted(scan.labels)     # every image, once
    assert seen == [n, 2, 2]


def test_pipeline_ends_in_a_fixed_prefetch(tmp_path, monkeypatch):
    # an AUTOTUNE prefetch keeps growing while the model waits for images: notebook 06's TEST
    # evaluation at 320x240 took 0.9 GiB more with it; the pipeline must end in a fixed one
    import tensorflow as tf
    seen = []
    real = tf.data.Dataset.prefetch
    monkeypatch.setattr(tf.data.Dataset, "prefetch",
                        lambda self, buffer_size, **kw: seen.append(buffer_size) or real(self, buffer_size, **kw))
    scan = folders.scan_image_folder(messy_tree(tmp_path / "data"))
    ds = folders.image_dataset(scan, image_size=(8, 8), batch_size=2, shuffle=False)
    assert seen == [folders.PREFETCH_BATCHES] and folders.PREFETCH_BATCHES != tf.data.AUTOTUNE
    assert type(ds).__name__.endswith("PrefetchDataset")                # the last step, so tf.data injects none
    assert ds.element_spec[0].dtype == tf.float32


@pytest.mark.parametrize("kwargs, match", [
    (dict(image_size=(0, 10)), "positive integers"),
    (dict(image_size=(10,)), "pair"),
    (dict(image_size="big"), "pair"),
    (dict(batch_size=0), "batch_size"),
    (dict(label_mode="onehot"), "label_mode"),
    (dict(validation_split=0.2), "together"),
    (dict(validation_split=1.5, subset="training"), "between 0 and 1"),
    (dict(validation_split=0.2, subset="test"), "subset"),
])
def test_pipeline_bad_arguments(tmp_path, kwargs, match):
    root = messy_tree(tmp_path / "data")
    with pytest.raises(ValueError, match=match):
        folders.image_dataset(root, **kwargs)


def test_binary_labels_need_two_classes(tmp_path):
    root = messy_tree(tmp_path / "data")
    write_jpeg(root / "emu" / "e.jpg")
    with pytest.raises(ValueError, match="exactly two classes"):
        folders.image_dataset(root, label_mode="binary")


def test_load_image_matches_the_pipeline_and_rejects_bad_files(tmp_path):
    root = messy_tree(tmp_path / "data")
    ds = folders.image_dataset(root, image_size=(12, 16), batch_size=None, shuffle=False)
    first_x, _ = next(iter(ds))
    one = folders.load_image(ds.file_paths[0], (12, 16))
    assert one.shape == (1, 12, 16, 3) and one.dtype == np.float32
    np.testing.assert_array_equal(one[0], first_x.numpy())
    rgba = folders.load_image(root / "cat" / "alpha.png", (5, 5))
    assert rgba.shape == (1, 5, 5, 3)
    with pytest.raises(ImageFolderError, match="does not exist"):
        folders.load_image(root / "nope.jpg", (8, 8))
    with pytest.raises(ImageFolderError, match="unreadable"):
        folders.load_image(root / "dog" / "broken.jpg", (8, 8))
    with pytest.raises(ImageFolderError, match="not an image"):
        folders.load_image(root / "dog" / "notes.txt", (8, 8))


def test_split_indices_partition():
    tr, va = folders.split_indices(10, 0.2, seed=1)
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(10))
    assert len(va) == 2
    with pytest.raises(ValueError, match="no training images"):
        folders.split_indices(1, 0.5)


def test_png_written_with_pil_decodes_to_the_same_pixels(tmp_path):
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    for cls in ("a", "b"):
        (root / cls).mkdir(parents=True)
        Image.fromarray(pixels).save(root / cls / "x.png")
    ds = folders.image_dataset(root, image_size=(8, 8), batch_size=None, shuffle=False)
    x, _ = next(iter(ds))
    np.testing.assert_array_equal(x.numpy(), pixels.astype(np.float32))   # same size: lossless


def test_same_size_shortcut_gives_the_resize_pixels_and_other_sizes_still_resize(tmp_path):
    """decode_and_resize skips the (slow) antialiased resize when an image already has
    image_size; on noise, the hardest case, the resize would have given the same pixels."""
    import tensorflow as tf
    rng = np.random.default_rng(1)

    def antialiased(pixels, size):                 # the resize the shortcut skips, as uint8
        out = tf.image.resize(pixels, size, method="bilinear", antialias=True).numpy()
        return np.clip(np.round(out), 0, 255).astype(np.uint8)

    pixels = rng.integers(0, 256, size=(12, 16, 3), dtype=np.uint8)
    path = tmp_path / "noise.png"
    Image.fromarray(pixels).save(path)
    np.testing.assert_array_equal(antialiased(pixels, (12, 16)), pixels)
    out = folders.decode_and_resize(tf.constant(str(path)), (12, 16))
    assert out.dtype == tf.uint8 and tuple(out.shape) == (12, 16, 3)
    np.testing.assert_array_equal(out.numpy(), pixels)
    small = folders.decode_and_resize(tf.constant(str(path)), (6, 8)).numpy()
    assert small.shape == (6, 8, 3)
    np.testing.assert_array_equal(small, antialiased(pixels, (6, 8)))
    # a folder mixing both cases streams one shape
    for cls, size in (("a", (16, 12)), ("b", (32, 24))):
        (tmp_path / "mixed" / cls).mkdir(parents=True)
        Image.fromarray(rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)).save(
            tmp_path / "mixed" / cls / "x.png")
    shapes = {tuple(x.shape) for x, _ in folders.image_dataset(tmp_path / "mixed", image_size=(12, 16),
                                                                batch_size=None, shuffle=False)}
    assert shapes == {(12, 16, 3)}
