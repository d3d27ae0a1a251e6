"""cnnlib.profiles: the smoke/full mechanism shared by papermill and nbval."""
import pytest

from cnnlib import profiles
from cnnlib.errors import ProfileError


def test_parameter_value_used_without_env(monkeypatch):
    monkeypatch.delenv("CNNLIB_PROFILE", raising=False)
    assert profiles.resolve("full") == "full"
    assert profiles.resolve("smoke") == "smoke"


def test_env_variable_wins_so_nbval_can_pick_smoke(monkeypatch):
    monkeypatch.setenv("CNNLIB_PROFILE", "smoke")
    assert profiles.resolve("full") == "smoke"


@pytest.mark.parametrize("env,param,source", [(None, "fast", "PROFILE"), ("quick", "full", "$CNNLIB_PROFILE")])
def test_unknown_profile_is_named_with_choices(monkeypatch, env, param, source):
    if env:
        monkeypatch.setenv("CNNLIB_PROFILE", env)
    else:
        monkeypatch.delenv("CNNLIB_PROFILE", raising=False)
    with pytest.raises(ProfileError) as err:
        profiles.resolve(param)
    assert source in str(err.value) and "'smoke'" in str(err.value) and "'full'" in str(err.value)


def test_select_returns_the_profile_settings(monkeypatch):
    monkeypatch.delenv("CNNLIB_PROFILE", raising=False)
    cfg = profiles.select("smoke", smoke={"epochs": 1}, full={"epochs": 10})
    assert (cfg.profile, cfg.epochs) == ("smoke", 1)
    assert profiles.select("full", smoke={"epochs": 1}, full={"epochs": 10}).epochs == 10


def test_select_rejects_mismatched_settings(monkeypatch):
    monkeypatch.delenv("CNNLIB_PROFILE", raising=False)
    with pytest.raises(ValueError, match="n_train"):
        profiles.select("full", smoke={"epochs": 1, "n_train": 5}, full={"epochs": 10})


def test_validate_ignores_the_environment(monkeypatch):
    monkeypatch.setenv("CNNLIB_PROFILE", "smoke")
    with pytest.raises(ProfileError, match="'fast'"):
        profiles.validate("fast")
