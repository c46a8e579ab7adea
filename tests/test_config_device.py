import random
import warnings

import numpy as np
import pytest
import torch

from sdgan_course import config, device
from sdgan_course.config import ProfileError, get_profile, profile_sizes


@pytest.mark.parametrize("name", ["ci", "cpu", "CI", " cpu "])
def test_profile_from_environment(monkeypatch, name):
    monkeypatch.setenv("SDGAN_PROFILE", name)
    assert get_profile() == name.strip().lower()


def test_unknown_profile_lists_the_valid_ones(monkeypatch):
    monkeypatch.setenv("SDGAN_PROFILE", "laptop")
    with pytest.raises(ProfileError, match="ci, cpu, gpu"):
        get_profile()


def test_default_profile_follows_the_hardware(monkeypatch):
    monkeypatch.delenv("SDGAN_PROFILE", raising=False)
    monkeypatch.setattr(config, "_accelerator_available", lambda: False)
    assert get_profile() == "cpu"
    monkeypatch.setattr(config, "_accelerator_available", lambda: True)
    assert get_profile() == "gpu"


def test_gpu_profile_without_gpu_falls_back_with_a_reason(monkeypatch):
    monkeypatch.setenv("SDGAN_PROFILE", "gpu")
    monkeypatch.delenv("SDGAN_FORCE_PROFILE", raising=False)
    monkeypatch.setattr(config, "_accelerator_available", lambda: False)
    with pytest.warns(RuntimeWarning, match="no CUDA or MPS"):
        assert get_profile() == "cpu"
    monkeypatch.setenv("SDGAN_FORCE_PROFILE", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_profile() == "gpu"


def test_data_presets_shrink_in_ci():
    assert config.data_config("ci").train_limit < 10_000
    assert config.data_config("cpu").train_limit is None


def test_seed_everything_reproduces_python_numpy_and_torch():
    def draw():
        gen = device.seed_everything(123)
        return random.random(), np.random.rand(), torch.rand(3), torch.rand(2, generator=gen)

    a, b = draw(), draw()
    assert a[0] == b[0] and a[1] == b[1]
    assert torch.equal(a[2], b[2]) and torch.equal(a[3], b[3])
    device.seed_everything(124)
    assert torch.rand(1).item() != a[2][0].item()


def test_device_choice_on_this_machine(monkeypatch):
    monkeypatch.delenv("SDGAN_DEVICE", raising=False)
    expected = "cuda" if torch.cuda.is_available() else ("mps" if device._mps_available() else "cpu")
    assert device.get_device().type == expected
    assert device.get_device("cpu").type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_asking_for_missing_cuda_says_so():
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        device.get_device("cuda")


def test_autocast_is_a_no_op_on_cpu():
    x = torch.randn(4, 4)
    with device.autocast("cpu"):
        y = x @ x
    assert y.dtype == torch.float32
    assert device.amp_dtype(torch.device("cpu")) is None


def test_data_presets_take_overrides_and_refuse_unknown_profiles():
    assert config.DataConfig.preset("ci", batch_size=8).batch_size == 8
    assert config.DataConfig.preset("ci") == config.data_config("ci")
    with pytest.raises(ProfileError, match="Valid profiles"):
        config.DataConfig.preset("tpu")


def test_data_config_keeps_the_preset_contract(check_preset):
    made = check_preset(config.DataConfig.preset, "DataConfig.preset", batch_size=8, train_limit=10)
    assert made == config.DATA_PRESETS


def test_profile_sizes_copies_the_entry_and_puts_overrides_on_top():
    table = {"ci": dict(steps=3, width=8), "cpu": dict(steps=30)}
    sizes = profile_sizes(table, "ci", "Thing.preset", width=16, depth=2)
    assert sizes == dict(steps=3, width=16, depth=2)
    sizes["steps"] = 99  # a copy: the table is unchanged
    assert table["ci"] == dict(steps=3, width=8)
    assert profile_sizes(table, "cpu", "Thing.preset") == dict(steps=30)
    # a dataclass entry gives its fields, shallowly
    assert profile_sizes(config.DATA_PRESETS, "ci", "DataConfig.preset", batch_size=4) == dict(
        train_limit=2_000, test_limit=500, batch_size=4)


def test_profile_sizes_names_the_owner_and_the_valid_profiles_of_its_table():
    with pytest.raises(ProfileError, match=r"Unknown profile 'gpu' for Thing\.preset\. Valid profiles: ci, cpu; "
                                           r"pass one of them"):
        profile_sizes({"ci": {}, "cpu": {}}, "gpu", "Thing.preset")
    assert issubclass(ProfileError, ValueError)  # callers that catch ValueError still do


def test_cpu_threads_restores_the_count():
    import torch

    before = torch.get_num_threads()
    with device.cpu_threads(torch.device("cpu"), 1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_sampling_layout_converts_in_place_and_restores():
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.Conv2d(8, 4, 1), torch.nn.Linear(4, 2))
    weight = model[0].weight
    x = torch.randn(2, 3, 6, 6)
    before = model(x)
    with device.sampling_layout(model) as on:
        assert on and model[0].weight is weight  # the same Parameter: an optimiser holding it is unaffected
        assert weight.is_contiguous(memory_format=torch.channels_last) and not weight.is_contiguous()
        during = model(x.contiguous(memory_format=torch.channels_last))
    assert weight.is_contiguous()
    assert torch.allclose(during, before, atol=1e-6)
    with device.sampling_layout(model, enabled=False) as on:
        assert not on and weight.is_contiguous()
    model.to(memory_format=torch.channels_last)  # a model kept in channels_last stays so
    with device.sampling_layout(model):
        pass
    assert weight.is_contiguous(memory_format=torch.channels_last)
    with device.sampling_layout(torch.nn.Linear(2, 2)) as on:  # nothing 4-D: nothing to convert
        assert not on


def test_sampling_batch_size_is_small_on_the_cpu():
    assert device.sampling_batch_size("cpu") == device.CPU_SAMPLING_BATCH <= 100
    assert device.sampling_batch_size(torch.device("cuda")) == device.GPU_SAMPLING_BATCH
