"""Notebook 11's exercise checks: the right answer passes, a blank asks for it, each recognised mistake is named."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb11 as ex
from sdgan_course.models.ldm import PromptContext
from sdgan_course.models.text_encoder import CLIPConfig, TextEncoder, make_tokenizer
from sdgan_course.schedules import NoiseSchedule, sampling_timesteps


class TinyTextSide:
    """What check_unchanged_tokens needs of a LatentDiffusion: encode_prompts, from an untrained ci text encoder."""

    def __init__(self):
        torch.manual_seed(0)
        config = CLIPConfig.preset("ci")
        self.tokenizer = make_tokenizer(config)  # the course's BPE tokenizer
        self.text = TextEncoder(config).eval()

    @torch.no_grad()
    def encode_prompts(self, prompts):
        ids, mask = self.tokenizer.encode(prompts)
        out = self.text(ids, mask)
        return PromptContext(out.tokens, out.mask)


def attention(q, k, v, mask):
    scores = (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).masked_fill(~mask[:, None, None, :], float("-inf"))
    return scores.softmax(-1) @ v


def test_attention():
    ex.check_attention(attention)
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_attention(...)
    with pytest.raises(ExerciseError, match="sqrt"):
        ex.check_attention(lambda q, k, v, m: (q @ k.transpose(-1, -2)).masked_fill(
            ~m[:, None, None, :], float("-inf")).softmax(-1) @ v)
    with pytest.raises(ExerciseError, match="mask is not used"):
        ex.check_attention(lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v))
    with pytest.raises(ExerciseError, match="over the pixels"):
        ex.check_attention(lambda q, k, v, m: (q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5).masked_fill(
            ~m[:, None, None, :], float("-inf")).softmax(-2) @ v)
    with pytest.raises(ExerciseError, match="shape"):
        ex.check_attention(lambda q, k, v, m: attention(q, k, v, m).transpose(1, 2))


def test_attention_hint_does_not_give_the_answer():
    with pytest.raises(ExerciseError) as err:
        ex.check_attention(...)
    assert "masked_fill" not in err.value.hint and "ex.show('ex1')" in err.value.hint


def test_unchanged_tokens():
    ldm = TinyTextSide()
    ex.check_unchanged_tokens(2, ldm)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_unchanged_tokens(..., ldm)
    with pytest.raises(ExerciseError, match="bidirectional"):
        ex.check_unchanged_tokens(0, ldm)
    with pytest.raises(ExerciseError, match="only the changed word"):
        ex.check_unchanged_tokens(9, ldm)
    with pytest.raises(ExerciseError, match="that \\*changed\\*"):
        ex.check_unchanged_tokens(8, ldm)
    with pytest.raises(ExerciseError, match="not what the encoder gives"):
        ex.check_unchanged_tokens(3, ldm)
    with pytest.raises(ExerciseError, match="whole number"):
        ex.check_unchanged_tokens(2.5, ldm)


def test_unchanged_tokens_accepts_a_count_as_a_tensor_or_numpy_number():
    """Item 24: `(... < 1e-5).sum()` is tensor(2); it was rejected ("got tensor(2)") while 2.0 passed."""
    ldm = TinyTextSide()
    both = ldm.encode_prompts(["a sneaker to the left of a bag", "a coat to the left of a bag"])
    counted = ((both.tokens[0] - both.tokens[1]).abs().amax(-1)[both.mask[0]] < 1e-5).sum()
    assert isinstance(counted, torch.Tensor) and counted.ndim == 0
    ex.check_unchanged_tokens(counted, ldm)
    ex.check_unchanged_tokens(2.0, ldm)
    ex.check_unchanged_tokens(np.int64(2), ldm)
    with pytest.raises(ExerciseError, match="one number is asked for"):
        ex.check_unchanged_tokens(torch.tensor([2, 0]), ldm)


def test_sdedit_start():
    schedule = NoiseSchedule.from_name("linear")
    timesteps = sampling_timesteps(20, 1000, spacing="trailing")
    steps_run = int(20 * 0.63)  # 12: the library truncates
    ex.check_sdedit_start(steps_run, int(timesteps[20 - steps_run]), schedule)
    ex.check_sdedit_start(torch.tensor(12), timesteps[8], schedule)  # 0-d tensors count as numbers
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_sdedit_start(..., 599, schedule)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_sdedit_start(12, ..., schedule)
    with pytest.raises(ExerciseError, match="skipped"):
        ex.check_sdedit_start(8, 599, schedule)
    with pytest.raises(ExerciseError, match="strength x T"):
        ex.check_sdedit_start(12, 630, schedule)
    with pytest.raises(ExerciseError, match="one step too early"):
        ex.check_sdedit_start(12, 649, schedule)
    with pytest.raises(ExerciseError, match="wrong end"):
        ex.check_sdedit_start(12, 399, schedule)


def test_sdedit_start_rejects_round_where_the_library_truncates():
    """Items 15 and 22: at strength 0.6 round() and int() both give 12, so the check could not tell them apart; at
    0.63 they differ (12.6: 12 against 13), and round()'s answer is named as such."""
    assert ex.SDEDIT_STRENGTH == 0.63 and int(20 * 0.63) == 12 and round(20 * 0.63) == 13
    schedule = NoiseSchedule.from_name("linear")
    timesteps = sampling_timesteps(20, 1000, spacing="trailing")
    steps_run = max(1, round(20 * ex.SDEDIT_STRENGTH))  # the old solution's round()
    with pytest.raises(ExerciseError, match="rounds 20 x 0.63 = 12.6; the library truncates"):
        ex.check_sdedit_start(steps_run, int(timesteps[20 - steps_run]), schedule)


def test_attention_weights():
    ex.check_attention_weights(8 * 4096 * 77, 8 * 4096 * 4096)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_attention_weights(..., 8 * 4096 * 4096)
    with pytest.raises(ExerciseError, match="leaves out the heads"):
        ex.check_attention_weights(4096 * 77, 4096 * 4096)
    with pytest.raises(ExerciseError, match="side of the latent"):
        ex.check_attention_weights(8 * 64 * 77, 8 * 4096 * 4096)
    with pytest.raises(ExerciseError, match="equals the cross-attention"):
        ex.check_attention_weights(8 * 4096 * 77, 8 * 4096 * 77)
    with pytest.raises(ExerciseError, match="not the self-attention weights"):
        ex.check_attention_weights(8 * 4096 * 77, 8 * 4096 * 4095)
    ex.check_attention_weights(torch.tensor(8 * 4096 * 77), np.int64(8 * 4096 * 4096))  # tensors, numpy: numbers


def clip_loss_by_hand(similarity, scale):
    logits, labels = scale * similarity, torch.arange(len(similarity))
    return (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels)) / 2


def test_clip_loss():
    ex.check_clip_loss(clip_loss_by_hand)
    with pytest.raises(ExerciseError, match="not a function yet"):
        ex.check_clip_loss(...)
    with pytest.raises(ExerciseError, match="only"):
        ex.check_clip_loss(lambda s, scale: F.cross_entropy(scale * s, torch.arange(len(s))))
    with pytest.raises(ExerciseError, match="ignores the scale"):
        ex.check_clip_loss(lambda s, scale: clip_loss_by_hand(s, 1.0))
    with pytest.raises(ExerciseError, match="adds the two"):
        ex.check_clip_loss(lambda s, scale: 2 * clip_loss_by_hand(s, scale))
    with pytest.raises(ExerciseError, match="not the loss"):
        ex.check_clip_loss(lambda s, scale: clip_loss_by_hand(s, scale) + math.pi)
    ex.check_clip_loss(lambda s, scale: clip_loss_by_hand(s, scale).item())  # a float counts too
    with pytest.raises(ExerciseError, match="one number is asked for"):
        ex.check_clip_loss(lambda s, scale: F.cross_entropy(scale * s, torch.arange(len(s)), reduction="none"))
