"""The word tokenizer of older checkpoints and the text encoder: round trips, padding and mask, limits, unknown words,
causality, the U-Net's context. (The BPE tokenizer: tests/test_tokenizer.py.)"""

import pytest
import torch

from sdgan_course.data.captions import vocabulary
from sdgan_course.models.text_encoder import CLIPConfig, MiniCLIP, Tokenizer, UnknownWordError, make_tokenizer
from sdgan_course.models.tokenizer import BPETokenizer
from sdgan_course.nn.attention import SpatialAttention


@pytest.fixture(scope="module")
def tok():
    return Tokenizer(vocabulary(), max_length=16)


def test_round_trip_padding_and_mask(tok):
    texts = ["a photo of a sneaker", "a t-shirt/top to the right of a ankle boot", "the digit seven"]
    ids, mask = tok.encode(texts)
    assert ids.shape == mask.shape == (3, 16) and mask.dtype == torch.bool
    assert tok.decode(ids) == texts
    assert mask.sum(1).tolist() == [5 + 2, 9 + 2, 3 + 2]  # the words plus <start> and <end>
    assert (ids[:, 0] == tok.start_id).all()
    for row, m in zip(ids, mask):
        n = int(m.sum())
        assert row[n - 1] == tok.end_id and (row[n:] == tok.pad_id).all() and m[:n].all() and not m[n:].any()
    assert torch.equal(tok.encode("A photo of a SNEAKER.").ids, ids[:1])  # case and punctuation do not matter


def test_empty_prompt_is_start_end(tok):
    ids, mask = tok.encode("")
    assert ids[0, :2].tolist() == [tok.start_id, tok.end_id] and mask[0].sum() == 2
    assert tok.decode(ids) == [""]


def test_max_length(tok):
    long = " ".join(["a"] * 15)
    with pytest.raises(ValueError, match="at most 14 fit"):
        tok.encode(long)
    ids, mask = tok.encode(long, truncate=True)
    assert mask.all() and ids[0, -1] == tok.end_id
    assert tok.encode(" ".join(["a"] * 14)).mask.all()  # exactly full is fine
    with pytest.raises(ValueError, match="max_length"):
        Tokenizer(["a"], max_length=1)


def test_unknown_words_warn_and_read_as_unk(tok):
    with pytest.warns(UserWarning, match="Did you mean 'sneaker'"):
        ids, _ = tok.encode("a photo of a sneeker")
    assert ids[0, 5] == tok.unk_id
    with pytest.raises(UnknownWordError, match="Known words: a, an"):
        tok.encode("a zebra", on_unknown="error")
    with pytest.warns(UserWarning, match="carries no meaning"):
        ids, _ = tok.encode("a zebra")
    assert ids[0, 2] == tok.unk_id and tok.decode(ids) == ["a <unk>"]


def test_config_picks_the_tokenizer_old_checkpoints_keep_theirs():
    assert isinstance(make_tokenizer(CLIPConfig()), BPETokenizer)  # new configs: the shipped BPE
    old = {"vocab": list(vocabulary()), "max_length": 16, "width": 32, "heads": 2}  # a config stored before BPE
    config = CLIPConfig.from_dict(old)
    assert config.tokenizer is None and isinstance(make_tokenizer(config), Tokenizer)
    with pytest.raises(ValueError, match="either a word list"):
        CLIPConfig(vocab=("a",), tokenizer=CLIPConfig().tokenizer)


def test_encoder_shapes_mask_and_pooling():
    torch.manual_seed(0)
    model = MiniCLIP(CLIPConfig.preset("ci"))
    enc = model.encode_text(["a photo of a bag", ""])
    e, d, length = model.config.width, model.config.embed_dim, model.config.max_length
    assert enc.tokens.shape == (2, length, e) and enc.mask.shape == (2, length) and enc.pooled.shape == (2, d)
    assert torch.isfinite(enc.tokens).all() and enc.mask[1].sum() == 2
    # pooled = projection of the final-layer <end> token (position 6 for a 5-word prompt, one token per word)
    assert torch.allclose(enc.pooled[0], model.text.proj(enc.tokens[0, 6]), atol=1e-6)
    assert model.text.context_dim == e


def test_causal_tokens_do_not_see_the_future():
    torch.manual_seed(0)
    model = MiniCLIP(CLIPConfig.preset("ci")).eval()
    a = model.encode_text(["a photo of a bag", "a photo of a coat"]).tokens
    assert torch.allclose(a[0, :5], a[1, :5], atol=1e-6)  # <start> a photo of a: identical prefix
    assert not torch.allclose(a[0, 5], a[1, 5])
    bidir = MiniCLIP(CLIPConfig.preset("ci", causal=False)).eval()
    b = bidir.encode_text(["a photo of a bag", "a photo of a coat"]).tokens
    assert not torch.allclose(b[0, 1], b[1, 1])  # without the causal mask every token sees the last word


def test_padding_does_not_change_real_tokens():
    torch.manual_seed(0)
    model = MiniCLIP(CLIPConfig.preset("ci", causal=False)).eval()
    short = MiniCLIP(CLIPConfig.preset("ci", causal=False, max_length=8)).eval()
    short.load_state_dict({k: (v[:8] if k == "text.pos_embed" else v) for k, v in model.state_dict().items()})
    long_enc = model.encode_text("a photo of a bag")
    short_enc = short.encode_text("a photo of a bag")
    assert torch.allclose(long_enc.tokens[0, :7], short_enc.tokens[0, :7], atol=1e-5)  # the mask hides the pads


def test_tokens_fit_the_unets_cross_attention():
    torch.manual_seed(0)
    model = MiniCLIP(CLIPConfig.preset("ci"))
    enc = model.encode_text(["a sneaker to the left of a bag", ""])
    attn = SpatialAttention(16, num_heads=2, context_dim=model.text.context_dim)
    nn_out = attn(torch.randn(2, 16, 7, 14), enc.tokens, enc.mask)
    assert nn_out.shape == (2, 16, 7, 14) and torch.isfinite(nn_out).all()


def test_image_encoder_any_canvas_and_bad_input():
    model = MiniCLIP(CLIPConfig.preset("ci"))
    assert model.encode_image(torch.zeros(3, 1, 28, 28)).shape == (3, model.config.embed_dim)
    assert model.encode_image(torch.zeros(3, 1, 28, 56)).shape == (3, model.config.embed_dim)
    with pytest.raises(ValueError, match="Expected images"):
        model.encode_image(torch.zeros(3, 3, 28, 28))
    with pytest.raises(ValueError, match="divisible"):
        CLIPConfig(width=30, heads=4)
    with pytest.raises(ValueError, match="Unknown profile"):
        CLIPConfig.preset("laptop")


def test_clip_preset_contract(check_preset):
    made = check_preset(CLIPConfig.preset, "CLIPConfig.preset", width=24, heads=3, image_width=4)
    assert all(c.vocab == CLIPConfig().vocab for c in made.values())
