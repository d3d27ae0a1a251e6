"""The benchmark scripts' own logic, on generated fixtures (the benchmarks themselves run on
demand, never as tests)."""
import importlib.util
from pathlib import Path


BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_profile_step_ablation_builder_defaults_to_the_course_model():
    profile = _load("profile_step")
    from cnnlib import models
    from tests.page_models import signature
    assert signature(profile.build()) == signature(models.fast_cifar10())
    assert profile.forward_flops(profile.build()) > profile.forward_flops(profile.build(widths=(8, 8, 8)))
    no_bn = profile.build(bn=None)
    assert not any("BatchNorm" in type(l).__name__ for l in no_bn.layers)
    assert no_bn.count_params() < profile.build().count_params()


def test_onednn_bench_sets_the_variable_per_fresh_process():
    bench = _load("onednn")
    assert bench.matmul_gflops(n=64, repeats=2) > 0
    for on in (False, True):        # the child checks that TensorFlow took the setting
        rec = bench.measure("classic_mnist", on, steps=1, warmup=1)
        assert rec["onednn"] is on and rec["images_per_second"] > 0 and rec["cpu_ms_per_image"] > 0


def test_input_pipeline_bench_measures_through_cnnlib_memory():
    """The bench and notebook 07 share one implementation of the measurements."""
    from cnnlib import memory
    bench = _load("input_pipeline")
    assert bench.measure is memory.measure and bench.MODES == memory.MODES
