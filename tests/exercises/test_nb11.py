"""Notebook 11's exercise checks: the right answer passes, a blank asks for it, each recognised mistake is named."""

import math

import pytest
import torch
import torch.nn.functional as F

from sdgan_course.exercises import ExerciseError
from sdgan_course.exercises import nb11 as ex
from sdgan_course.models.ldm import PromptContext
from sdgan_course.models.text_encoder import CLIPConfig, TextEncoder, Tokenizer
from sdgan_course.schedules import NoiseSchedule, sampling_timesteps


class TinyTextSide:
    """What check_unchanged_tokens needs of a LatentDiffusion: encode_prompts, from an untrained ci text encoder."""

    def __init__(self):
        torch.manual_seed(0)
        config = CLIPConfig.preset("ci")
        self.tokenizer = Tokenizer(config.vocab, max_length=config.max_length)
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


def test_unchanged_tokens():
    ldm = TinyTextSide()
    ex.check_unchanged_tokens(2, ldm)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_unchanged_tokens(..., ldm)
    with pytest.raises(ExerciseError, match="bidirectional"):
        ex.check_unchanged_tokens(0, ldm)
    with pytest.raises(ExerciseError, match="only the changed word"):
        ex.check_unchanged_tokens(9, ldm)
    with pytest.raises(ExerciseError, match="not what the encoder gives"):
        ex.check_unchanged_tokens(3, ldm)


def test_sdedit_start():
    schedule = NoiseSchedule.from_name("linear")
    steps_run = round(20 * 0.6)
    ex.check_sdedit_start(steps_run, int(sampling_timesteps(20, 1000)[20 - steps_run]), schedule)
    with pytest.raises(ExerciseError, match="still `...`"):
        ex.check_sdedit_start(..., 599, schedule)
    with pytest.raises(ExerciseError, match="skipped"):
        ex.check_sdedit_start(8, 599, schedule)
    with pytest.raises(ExerciseError, match="strength x T"):
        ex.check_sdedit_start(12, 600, schedule)
    with pytest.raises(ExerciseError, match="wrong end"):
        ex.check_sdedit_start(12, 399, schedule)


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
