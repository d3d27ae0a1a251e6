"""The models the notebooks teach are written on the page (cells tagged ``page-model``).
Where a bench script or the CLI needs the same architecture from ``cnnlib.models``, the
page's builder has the same name and defaults, and these tests prove the two identical:
the same layer types, output shapes and parameter counts, so they cannot drift apart."""
from __future__ import annotations

import json
import re

import pytest

from cnnlib import models, report
from tests.page_models import page_builders, page_cells, signature

# the library builders that bench/ or the CLI use, so a notebook must teach the same model
USED_OUTSIDE_NOTEBOOKS = ("classic_mnist", "improved_mnist", "classic_cifar10", "fast_cifar10",
                          "folder_classifier")


@pytest.fixture(scope="module")
def builders():
    return page_builders()


# page functions that are not model builders; each has its own page-against-library test below
NOT_MODELS = ("patch_whitening", "crop_flip_batches", "augmentation")


def _twins(builders):
    return [(nb, name) for (nb, name) in builders if name in models.__all__ and name not in NOT_MODELS]


def test_every_library_model_used_by_bench_or_cli_is_written_on_a_page(builders):
    on_pages = {name for _, name in builders}
    missing = [name for name in USED_OUTSIDE_NOTEBOOKS if name not in on_pages]
    assert not missing, f"no notebook writes {missing} on the page (a page-model cell)"


@pytest.mark.slow
def test_page_and_library_models_are_identical(builders):
    twins = _twins(builders)
    assert twins, "no page-model builder shares a name with cnnlib.models"
    for nb, name in twins:
        page, lib = builders[(nb, name)](), getattr(models, name)()
        assert signature(page) == signature(lib), f"{nb}: page {name} differs from cnnlib.models.{name}"
        assert page.count_params() == lib.count_params()


@pytest.mark.slow
def test_the_blood_cell_page_model_matches_the_bench_configuration(builders):
    """cnnlib.memory (notebook 07's and bench/input_pipeline.py's training measurement) and
    bench/blood_seeds.py build notebook 07's 4-class model with these arguments."""
    from cnnlib import memory
    page = next((b for (nb, name), b in builders.items() if name == "folder_classifier"), None)
    assert page is not None, "no notebook writes folder_classifier on the page"
    kw = dict(memory.NOTEBOOK_MODEL)
    size = (96, 96)
    assert signature(page(size, 4, **kw)) == signature(models.folder_classifier(size, 4, **kw))


def test_notebooks_build_no_model_through_the_library():
    hidden = re.compile(r"models\.(classic_\w+|improved_\w+|fast_\w+|folder_classifier)\(")
    for path in report.list_notebooks():
        nb = json.loads(path.read_text())
        for i, cell in enumerate(nb["cells"]):
            src = "".join(cell["source"])
            if cell["cell_type"] == "code" and hidden.search(src):
                pytest.fail(f"{path.name} cell {i} builds its model with {hidden.search(src).group(0)}: "
                            "write it on the page (CONVENTIONS rule 14)")


def test_page_model_cells_hold_only_definitions():
    import ast
    for path in report.list_notebooks():
        for src in page_cells(path):
            for node in ast.parse(src).body:
                docstring = isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
                assert docstring or isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import,
                                                      ast.ImportFrom)), \
                    f"{path.name}: a page-model cell runs {type(node).__name__} code; keep it to definitions"


def test_the_transfer_backbone_is_written_on_a_page(builders):
    """cnnlib.transfer.cifar_backbone (which notebook 07 and transfer.pretrained_backbone use) is
    notebook 06's page-model builder: same name, same defaults, the same layers.
    tests/test_transfer_page.py also proves that the page's cache key is the library's."""
    from cnnlib import transfer
    page = next((b for (nb, name), b in builders.items() if name == "cifar_backbone"), None)
    assert page is not None, "no notebook writes cifar_backbone on the page"
    built, lib = page(), transfer.cifar_backbone()
    assert [layer.name for layer in built.layers] == [layer.name for layer in lib.layers]
    assert signature(built) == signature(lib)
    assert transfer.architecture_digest(built) == transfer.architecture_digest(lib)


def test_the_cifar_page_whitening_and_pipeline_match_the_library(builders):
    """bench/cifar_trials.py and bench/time_to_accuracy.py use cnnlib's patch_whitening and
    training.crop_flip_batches; notebook 04 writes both on the page. Same inputs, same outputs."""
    import numpy as np

    from cnnlib import training
    page_whiten = builders.get(("04_cifar10", "patch_whitening"))
    page_batches = builders.get(("04_cifar10", "crop_flip_batches"))
    assert page_whiten and page_batches, "notebook 04 must write patch_whitening and crop_flip_batches on the page"
    x = np.random.default_rng(0).random((40, 12, 12, 3), dtype=np.float32)
    for got, want in zip(page_whiten(x), models.patch_whitening(x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    y = np.arange(40)
    page = [(a.numpy(), b.numpy()) for a, b in page_batches(x, y, batch_size=16, seed=3).take(4)]
    lib = [(a.numpy(), b.numpy()) for a, b in training.crop_flip_batches(x, y, batch_size=16, seed=3).take(4)]
    for (pa, pb), (la, lb) in zip(page, lib):
        np.testing.assert_array_equal(pa, la)
        np.testing.assert_array_equal(pb, lb)
