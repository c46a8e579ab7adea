import re

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_thread():
    """One thread per test (see the root conftest.py: two xdist workers share two cores)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def diffusers():
    """The test-only reference, diffusers (the ``dev`` extra). A test that compares with it takes this fixture, so a
    missing diffusers skips only those tests, each one reported as skipped with the reason."""
    return pytest.importorskip("diffusers", reason="diffusers is the test-only reference: pip install -e '.[dev]'")


@pytest.fixture(scope="session")
def tiny_ldm_run():
    """A factory of tiny latent-diffusion runs (ci sizes) with randomly initialised frozen parts: no shipped files."""
    from dataclasses import asdict

    from sdgan_course.models.text_encoder import CLIPConfig, TextEncoder
    from sdgan_course.models.vae import AutoencoderConfig, KLAutoencoder
    from sdgan_course.train.flow import FlowRun, FlowTrainConfig, mmdit_config
    from sdgan_course.train.ldm import LDMRun, LDMTrainConfig, ldm_unet_config

    def make(family: str = "ldm", **overrides):
        """``family="flow"``: the same run with an MMDiT trained by flow matching (train/flow.py)."""
        torch.manual_seed(0)
        clip_config, ae_config = CLIPConfig.preset("ci"), AutoencoderConfig.preset("ci", scale_factor=0.9)
        clip_state = {"config": asdict(clip_config), "weights": TextEncoder(clip_config).state_dict()}
        ae_state = {"config": asdict(ae_config), "weights": KLAutoencoder(config=ae_config).state_dict()}
        run_class, config_class, network_config = (
            (FlowRun, FlowTrainConfig, mmdit_config) if family == "flow" else (LDMRun, LDMTrainConfig, ldm_unet_config)
        )
        net = network_config("ci", context_dim=clip_config.width, latent_channels=ae_config.latent_channels)
        return run_class(net, config_class.preset("ci", **overrides), clip_state=clip_state,
                         autoencoder_state=ae_state)

    return make


@pytest.fixture(scope="session")
def check_preset():
    """The contract every preset keeps (``sdgan_course.config.profile_sizes``): each of ci, cpu and gpu gives a config,
    the keyword ``overrides`` win in every profile, and an unknown profile raises ProfileError naming the preset
    (``owner``) and the valid profiles. Returns the config of each profile."""
    from sdgan_course.config import PROFILES, ProfileError

    def field(config, name):
        return config[name] if isinstance(config, dict) else getattr(config, name)

    def check(preset, owner: str, **overrides) -> dict:
        made = {profile: preset(profile) for profile in PROFILES}
        for profile in PROFILES:
            changed = preset(profile, **overrides)
            assert {name: field(changed, name) for name in overrides} == overrides, (owner, profile)
            assert type(changed) is type(made[profile])
        with pytest.raises(ProfileError, match=rf"'tpu' for {re.escape(owner)}\. Valid profiles: ci, cpu, gpu;"):
            preset("tpu")
        return made

    return check
