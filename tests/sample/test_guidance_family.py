"""One guidance function for labels and text: guided_eps_fn takes the network's conditioning arguments, evaluates the
network once per step at scale 0 or 1 and once on a doubled batch otherwise, and both wrappers are it."""

import pytest
import torch

from sdgan_course.models.ldm import PromptContext
from sdgan_course.sample.guidance import classifier_free_guidance, guided_eps, guided_eps_fn
from sdgan_course.sample.ldm import prompt_guidance


class Recorder(torch.nn.Module):
    """eps = x + labels or x + mean context (masked), recording the batch size of every forward pass."""

    def __init__(self):
        super().__init__()
        self.batches = []

    def forward(self, x, t, labels=None, context=None, context_mask=None):
        self.batches.append(len(x))
        if labels is not None:
            return x + labels.view(-1, 1, 1, 1).float()
        return x + (context * context_mask[..., None]).sum((1, 2)).view(-1, 1, 1, 1)


@pytest.mark.parametrize("scale", [0.0, 1.0, 2.5])
def test_labels_and_text_go_through_one_guidance_function(scale):
    x, t = torch.randn(3, 1, 2, 2), torch.tensor([4, 4, 4])
    labels, negative = torch.tensor([0, 1, 2]), torch.tensor([5, 5, 5])
    prompt = PromptContext(torch.randn(3, 2, 4), torch.tensor([[1, 1], [1, 0], [1, 1]], dtype=torch.bool))
    other = PromptContext(torch.randn(3, 2, 4), torch.ones(3, 2, dtype=torch.bool))
    for cond, neg, wrapper in [
        ({"labels": labels}, {"labels": negative},
         lambda m: classifier_free_guidance(m, labels, scale=scale, null_label=9, negative_labels=negative)),
        ({"context": prompt.tokens, "context_mask": prompt.mask}, {"context": other.tokens, "context_mask": other.mask},
         lambda m: prompt_guidance(m, prompt, other, scale=scale)),
    ]:
        model = Recorder()
        expected = guided_eps(model(x, t, **cond), model(x, t, **neg), scale)
        model.batches.clear()
        out = guided_eps_fn(model, cond, neg, scale=scale)(x, t)
        assert torch.allclose(out, expected, atol=1e-6)
        assert model.batches == ([3] if scale in (0.0, 1.0) else [6])  # one forward pass; doubled when guided
        model.batches.clear()
        assert torch.equal(wrapper(model)(x, t), out) and len(model.batches) == 1


@pytest.mark.parametrize(("scale", "expected"), [(None, 5), (0.0, 5), (1.0, 5), (2.0, 10), (7.5, 10)])
def test_network_evaluations_counts_what_a_sampler_runs(scale, expected):
    """The NFE of every table: guidance 0 and 1 are one evaluation per step (the old LDM tool counted 0 as two)."""
    from sdgan_course.sample.base import get_sampler, network_evaluations
    from sdgan_course.schedules import NoiseSchedule

    assert network_evaluations(5, scale) == expected
    model, labels = Recorder(), torch.tensor([0, 1, 2])
    if scale is None:
        eps_fn = lambda x, t: model(x, t, labels)  # noqa: E731  (an unconditional network)
    else:
        eps_fn = guided_eps_fn(model, {"labels": labels}, {"labels": torch.full_like(labels, 9)}, scale=scale)
    schedule = NoiseSchedule.from_name("linear", 100)
    get_sampler("ddim").sample(eps_fn, (3, 1, 2, 2), schedule, num_steps=5, rng=torch.Generator().manual_seed(0))
    assert sum(model.batches) // 3 == expected  # images through the network, per image
