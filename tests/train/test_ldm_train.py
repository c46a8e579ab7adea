"""Latent diffusion training: the caption table against the text encoder, caption dropout, the step, resume, export."""

import pytest
import torch

from sdgan_course.checkpoint import CheckpointError
from sdgan_course.data.wordings import HELD_OUT_ATTRIBUTE_PAIRS, single_captions
from sdgan_course.models.ldm import LatentDiffusion
from sdgan_course.models.text_encoder import CLIPConfig, TextEncoder, Tokenizer
from sdgan_course.train.ldm import (
    LDMRun,
    LDMTrainConfig,
    caption_context,
    encode_caption_table,
    export_ldm,
    ldm_unet_config,
    load_ldm,
    prepare_ldm_data,
    train_ldm,
)


def tiny_images(n=60):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.arange(n) % 10


def test_caption_table_is_the_text_encoder_on_the_written_captions(tiny_ldm_run):
    run = tiny_ldm_run()
    table = encode_caption_table(run.text_encoder, run.tokenizer, "fashion_mnist")
    bag_words, dark_coat = single_captions("fashion_mnist", 8), single_captions("fashion_mnist", 4, 1)
    ids, mask = run.tokenizer.encode([bag_words[3], "a sneaker to the left of a bag",
                                      "a bag to the right of a sneaker", "", dark_coat[-1]])
    direct = run.text_encoder(ids, mask)
    assert torch.allclose(table.single[8, 0, 3], direct.tokens[0], atol=1e-6)
    assert torch.allclose(table.single[4, 1, len(dark_coat) - 1], direct.tokens[4], atol=1e-6)
    assert table.single_count[8, 0] == len(bag_words) and table.single_count[4, 1] == len(dark_coat)
    for a, c in HELD_OUT_ATTRIBUTE_PAIRS:  # a held-out (attribute, class) pair is never a training caption
        assert table.single_count[c, a] == 0
    assert torch.allclose(table.pair[7, 8, 0], direct.tokens[1], atol=1e-6)  # sneaker (7) left of bag (8)
    assert torch.allclose(table.pair[7, 8, 1], direct.tokens[2], atol=1e-6)  # the mirror wording, same scene
    assert torch.equal(table.pair_mask[7, 8, 0], direct.mask[1])
    assert torch.allclose(table.empty, direct.tokens[3], atol=1e-6)
    assert table.empty_mask.sum() == 2  # <start> <end>


def test_caption_context_draws_wordings_attributes_and_the_empty_prompt(tiny_ldm_run):
    run = tiny_ldm_run()
    table = encode_caption_table(run.text_encoder, run.tokenizer, "fashion_mnist")
    labels = torch.full((600,), 4)
    tokens, mask = caption_context(table, labels, rng=torch.Generator().manual_seed(0))
    distinct = {round(row.abs().sum().item(), 3) for row in tokens}
    plain = {round(row.abs().sum().item(), 3) for row in table.single[4, 0, : table.single_count[4, 0]]}
    assert distinct == plain  # every plain wording of a coat drawn, nothing else
    dark = torch.ones_like(labels)
    tokens, _ = caption_context(table, labels, dark, p_attribute=0.5, rng=torch.Generator().manual_seed(0))
    darks = {round(row.abs().sum().item(), 3) for row in table.single[4, 1, : table.single_count[4, 1]]}
    said = torch.tensor([round(row.abs().sum().item(), 3) in darks for row in tokens])
    assert 0.4 < said.float().mean() < 0.6  # "a dark coat" about half the time
    dresses = torch.full((200,), 3)  # "dark dress" is held out: never said, whatever p_attribute
    tokens, _ = caption_context(table, dresses, torch.ones_like(dresses), p_attribute=1.0,
                                rng=torch.Generator().manual_seed(0))
    plain_dress = {round(row.abs().sum().item(), 3) for row in table.single[3, 0, : table.single_count[3, 0]]}
    assert {round(row.abs().sum().item(), 3) for row in tokens} <= plain_dress
    tokens, mask = caption_context(table, labels, p_uncond=0.25, rng=torch.Generator().manual_seed(0))
    empty = (tokens == table.empty).all(-1).all(-1)
    assert 0.18 < empty.float().mean() < 0.32
    assert (mask[empty].sum(1) == 2).all()
    pairs = torch.tensor([[7, 8]] * 5)
    tokens, _ = caption_context(table, pairs, rng=torch.Generator().manual_seed(1))
    assert all(torch.allclose(t, table.pair[7, 8, 0]) or torch.allclose(t, table.pair[7, 8, 1]) for t in tokens)


def test_data_holds_singles_pairs_and_no_held_out_pair(tiny_ldm_run):
    run = tiny_ldm_run()
    images, labels = tiny_images()
    images[:10] = -1.0  # black: the darkest third of any class
    data = prepare_ldm_data(run, images, labels)
    assert data.singles.mean.shape == (60, 4, 7, 7) and data.pairs.mean.shape == (200, 4, 7, 14)
    assert (data.singles.attributes[:10] == 1).all() and (data.pairs.attributes == 0).all()
    assert (data.singles.std > 0).all()
    from sdgan_course.data.captions import is_held_out

    assert not is_held_out(data.pairs.labels).any()


def test_training_moves_the_unet_and_resume_equals_straight_through(tmp_path, tiny_ldm_run):
    images, labels = tiny_images()
    straight = tiny_ldm_run()
    data = prepare_ldm_data(straight, images, labels)
    before = [p.clone() for p in straight.model.parameters()]
    train_ldm(straight, data, steps=6, progress=False)
    assert any(not torch.equal(a, b) for a, b in zip(before, straight.model.parameters()))
    assert len(straight.history["loss"]) > 0

    first = tiny_ldm_run()
    train_ldm(first, prepare_ldm_data(first, images, labels), steps=3, progress=False,
              checkpoint_path=tmp_path / "c.pt")
    first.save(tmp_path / "c.pt")
    resumed = LDMRun.load(tmp_path / "c.pt")
    assert resumed.step == 3
    train_ldm(resumed, prepare_ldm_data(resumed, images, labels), steps=6, progress=False)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-5)


def test_export_bundles_three_parts_and_refuses_to_resume(tmp_path, tiny_ldm_run):
    run = tiny_ldm_run()
    path = export_ldm(run, tmp_path / "ldm.pt", note="test")
    ldm = load_ldm(path)
    assert isinstance(ldm, LatentDiffusion) and ldm.info["note"] == "test"
    assert ldm.scale_factor == pytest.approx(0.9)
    ids, mask = run.tokenizer.encode(["a photo of a coat"])
    assert torch.allclose(ldm.encode_prompts("a photo of a coat").tokens, run.text_encoder(ids, mask).tokens)
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        LDMRun.load(path)


def test_mismatched_parts_are_refused(tiny_ldm_run):
    run = tiny_ldm_run()
    other = TextEncoder(CLIPConfig.preset("ci", width=48, heads=2))
    with pytest.raises(ValueError, match="not trained together"):
        LatentDiffusion(run.model, other, Tokenizer(["a", "bag"]), run.autoencoder, run.schedule)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match="pair_every"):
        LDMTrainConfig(pair_every=1)
    with pytest.raises(ValueError, match="p_uncond"):
        LDMTrainConfig(p_uncond=1.0)
    with pytest.raises(ValueError, match="Unknown profile"):
        LDMTrainConfig.preset("laptop")


def test_ldm_presets_keep_the_contract(check_preset):
    check_preset(LDMTrainConfig.preset, "LDMTrainConfig.preset", steps=3, pair_batch_size=2, num_pairs=5)
    unets = check_preset(lambda p, **kw: ldm_unet_config(p, 12, 3, **kw), "ldm_unet_config",
                         base_channels=8, num_heads=1)
    assert all((u.in_channels, u.context_dim, u.attention_levels) == (3, 12, (0, 1)) for u in unets.values())


def test_an_older_word_tokenizer_gets_the_first_templates_only():
    from sdgan_course.data.captions import TEMPLATES, vocabulary
    from sdgan_course.models.text_encoder import make_tokenizer

    config = CLIPConfig.preset("ci", vocab=vocabulary(), max_length=16)
    table = encode_caption_table(TextEncoder(config), make_tokenizer(config), "fashion_mnist")
    assert table.single_count[:, 0].tolist() == [len(TEMPLATES["fashion_mnist"])] * 10
    assert (table.single_count[:, 1:] == 0).all()  # no attribute words for a model that never read them
