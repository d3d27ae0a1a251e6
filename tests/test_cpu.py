"""cnnlib.cpu: vector features from a cpuinfo file, and the oneDNN setting from an
environment, on fake files and dicts (no TensorFlow)."""
import os
import platform

import pytest

from cnnlib import cpu

BASE = "fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx fma"
EPYC_ZEN3 = BASE + " avx2 bmi2 sha_ni vaes"                               # this course's 2-core machine
SKYLAKE_SP = BASE + " avx2 avx512f avx512dq avx512cd avx512bw avx512vl"    # AVX-512, no VNNI
ICELAKE_SP = SKYLAKE_SP + " avx512_vnni avx512_vbmi"
SAPPHIRE = ICELAKE_SP + " avx512_bf16 amx_bf16 amx_tile amx_int8 avx_vnni"
ALDER_LAKE = BASE + " avx2 avx_vnni"                                      # AVX-VNNI without AVX-512
OLD = "fpu vme sse sse2 ssse3 sse4_1 sse4_2 avx"
ON_LINUX_X86 = platform.system() == "Linux" and platform.machine().lower() in ("x86_64", "amd64")


def _cpuinfo(tmp_path, flags, processors=2, key="flags"):
    text = "".join(f"processor\t: {i}\nmodel name\t: Test CPU\n{key}\t\t: {flags}\n\n"
                   for i in range(processors))
    path = tmp_path / "cpuinfo"
    path.write_text(text)
    return path


@pytest.mark.parametrize("flags, summary", [
    (EPYC_ZEN3, "AVX2"), (SKYLAKE_SP, "AVX-512"), (ICELAKE_SP, "AVX-512"),
    (SAPPHIRE, "AVX-512 + AMX"), (ALDER_LAKE, "AVX2 + AVX-VNNI"), (OLD, "no AVX2"),
])
def test_features_and_summary_from_a_cpuinfo_file(tmp_path, flags, summary):
    features = cpu.vector_features(_cpuinfo(tmp_path, flags))
    assert features["avx2"] == ("avx2" in flags.split())
    assert features["avx512f"] == ("avx512f" in flags.split())
    assert features["amx"] == ("amx_tile" in flags.split())
    assert cpu.vector_summary(features) == summary


def test_flags_are_whole_words(tmp_path):
    # "avx512_vnni" must not count as "avx512f" nor "avx" as "avx2"
    features = cpu.vector_features(_cpuinfo(tmp_path, "sse avx avx512_vnni"))
    assert features["avx"] and not features["avx2"] and not features["avx512f"]
    assert features["avx512_vnni"]


def test_unknown_without_a_readable_flags_line(tmp_path):
    assert cpu.vector_features(tmp_path / "missing") == {}
    (tmp_path / "noflags").write_text("processor\t: 0\nmodel name\t: Something\n")
    assert cpu.vector_features(tmp_path / "noflags") == {}
    assert cpu.vector_summary({}) == "unknown vector features"
    assert cpu.tensorflow_default({}, "Linux", "x86_64") is None


def test_arm_features_line(tmp_path):
    features = cpu.vector_features(_cpuinfo(tmp_path, "fp asimd evtstrm aes crc32", key="Features"))
    assert not features["avx2"] and cpu.vector_summary(features) == "ARM NEON"


def test_this_machine_reads_without_error():
    features = cpu.vector_features()
    assert isinstance(features, dict)
    if ON_LINUX_X86:
        assert features and "sse4_2" in features      # every x86-64 Linux kernel lists its flags
    assert isinstance(cpu.vector_summary(), str)


@pytest.mark.parametrize("flags, default", [
    (EPYC_ZEN3, False), (SKYLAKE_SP, False), (ICELAKE_SP, True), (SAPPHIRE, True), (ALDER_LAKE, True),
    (OLD, False),
])
def test_tensorflow_default_follows_its_linux_rule(tmp_path, flags, default):
    features = cpu.vector_features(_cpuinfo(tmp_path, flags))
    assert cpu.tensorflow_default(features, "Linux", "x86_64") is default
    assert cpu.tensorflow_default(features, "Darwin", "arm64") is None
    assert cpu.tensorflow_default(features, "Windows", "AMD64") is None


# --------------------------------------------------------------------------- the setting
AVX2 = {"avx2": True, "avx512f": False, "avx512_vnni": False, "amx": False}
VNNI = {"avx2": True, "avx512f": True, "avx512_vnni": True, "amx": False}


@pytest.fixture
def linux_x86(monkeypatch):
    monkeypatch.setattr(cpu.platform, "system", lambda: "Linux")
    monkeypatch.setattr(cpu.platform, "machine", lambda: "x86_64")


def test_unset_means_tensorflows_default(linux_x86):
    off = cpu.onednn_state({}, AVX2)
    assert off.on is False and str(off).startswith("off: TensorFlow's default on this CPU")
    assert "AVX2" in str(off) and "TF_ENABLE_ONEDNN_OPTS=1 turns it on" in str(off)
    on = cpu.onednn_state({}, VNNI)
    assert on.on is True and str(on).startswith("on: TensorFlow's default on this CPU")


@pytest.mark.parametrize("value, on", [("1", True), ("true", True), ("TRUE", True),
                                       ("0", False), ("false", False), ("False", False)])
def test_a_value_you_set_wins(linux_x86, value, on):
    for features in (AVX2, VNNI):
        state = cpu.onednn_state({"TF_ENABLE_ONEDNN_OPTS": value}, features)
        assert state.on is on
        assert f"TF_ENABLE_ONEDNN_OPTS={value} (set in your environment" in state.why


def test_an_invalid_value_falls_back_to_the_default(linux_x86):
    state = cpu.onednn_state({"TF_ENABLE_ONEDNN_OPTS": "yes"}, AVX2)
    assert state.on is False and "'yes' is not 0, 1, true or false" in state.why
    assert cpu.onednn_state({"TF_ENABLE_ONEDNN_OPTS": ""}, VNNI).on is True


def test_unknown_platform_says_so(monkeypatch):
    monkeypatch.setattr(cpu.platform, "system", lambda: "Darwin")
    state = cpu.onednn_state({}, AVX2)
    assert state.on is None and str(state).startswith("unknown: ")


def test_enable_sets_one_unless_you_set_it(linux_x86):
    env = {}
    assert cpu.enable_onednn(env) == "set TF_ENABLE_ONEDNN_OPTS=1"
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "1"
    assert str(cpu.onednn_state(env, AVX2)) == "on: TF_ENABLE_ONEDNN_OPTS=1 (set by cnnlib)"
    # a second call (a child process inheriting it) changes nothing and still credits cnnlib
    assert cpu.enable_onednn(env).startswith("left TF_ENABLE_ONEDNN_OPTS='1'")
    assert "set by cnnlib" in cpu.onednn_state(env, AVX2).why

    yours = {"TF_ENABLE_ONEDNN_OPTS": "0"}
    assert cpu.enable_onednn(yours) == "left TF_ENABLE_ONEDNN_OPTS='0' as it was set"
    assert yours == {"TF_ENABLE_ONEDNN_OPTS": "0"}
    assert str(cpu.onednn_state(yours, AVX2)).startswith("off: TF_ENABLE_ONEDNN_OPTS=0 (set in your environment")


def test_changing_the_value_after_cnnlib_set_it_is_yours(linux_x86):
    env = {}
    cpu.enable_onednn(env)
    env["TF_ENABLE_ONEDNN_OPTS"] = "0"
    assert cpu.onednn_state(env, AVX2).on is False


def test_enable_defaults_to_this_process(monkeypatch):
    for name in ("TF_ENABLE_ONEDNN_OPTS", cpu.MARKER):
        monkeypatch.setenv(name, "x")      # records the original, so monkeypatch restores it after
        monkeypatch.delenv(name)
    assert cpu.enable_onednn().startswith("set TF_ENABLE_ONEDNN_OPTS=1")
    assert os.environ["TF_ENABLE_ONEDNN_OPTS"] == "1"


def test_doctor_names_the_cpu_and_the_setting(monkeypatch):
    from cnnlib import doctor, report
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    checks = {c.name: c for c in doctor._cpu()}
    assert checks["CPU"].detail.startswith(report.cpu_model())
    assert checks["CPU"].detail.endswith(cpu.vector_summary())
    detail = checks["oneDNN"].detail
    assert detail.startswith("off: TF_ENABLE_ONEDNN_OPTS=0 (set in your environment")
    assert "read from this process's environment, which TensorFlow reads when imported" in detail
    assert not any(c.needed and not c.ok for c in checks.values())     # information, never a failure
