"""Miniature CLIP: the contrastive loss against a direct computation, duplicate captions, training, resume, export,
checkpoint errors, CLIP score, zero-shot accuracy and reranking, and the ``train clip`` command."""

import argparse
import json
import math

import pytest
import torch
import torch.nn.functional as F

from sdgan_course.checkpoint import CheckpointError, save_checkpoint
from sdgan_course.cli import clip as clip_cli
from sdgan_course.data.captions import compose_pairs
from sdgan_course.data.images import load_images
from sdgan_course.losses.clip import INIT_LOG_SCALE, clip_logits, clip_loss
from sdgan_course.metrics.clip_score import clip_score, composition_accuracy, rerank, zero_shot_accuracy
from sdgan_course.models.text_encoder import CLIPConfig, MiniCLIP
from sdgan_course.train.clip import (
    CLIPRun,
    CLIPTrainConfig,
    clip_train_step,
    export_clip,
    load_clip,
    pair_group_ids,
    train_clip,
)


def direct_loss(img, txt, scale, positives=None, removed=None):
    """The loss written out entry by entry: -log softmax of each positive, averaged over rows then columns."""
    n = len(img)
    img, txt = [F.normalize(e, dim=-1).tolist() for e in (img, txt)]
    s = [[scale * sum(a * b for a, b in zip(img[i], txt[j])) for j in range(n)] for i in range(n)]
    positives = positives or [[i] for i in range(n)]  # per row (= per column: symmetric) the target set
    removed = removed or [set() for _ in range(n)]

    def ce(row):  # row(i) -> the scores of line i
        total = 0.0
        for i in range(n):
            keep = [j for j in range(n) if j not in removed[i]]
            log_z = math.log(sum(math.exp(row(i)[j]) for j in keep))
            total += sum(-(row(i)[j] - log_z) for j in positives[i]) / len(positives[i])
        return total / n

    return 0.5 * (ce(lambda i: s[i]) + ce(lambda j: [s[i][j] for i in range(n)]))


def test_loss_matches_a_direct_computation():
    g = torch.Generator().manual_seed(0)
    img, txt = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    t = torch.tensor(INIT_LOG_SCALE)
    assert INIT_LOG_SCALE == pytest.approx(math.log(1 / 0.07))
    out = clip_loss(img, txt, t)
    assert out.loss.item() == pytest.approx(direct_loss(img, txt, 1 / 0.07), rel=1e-5)
    assert out.logits.shape == (5, 5)
    # distinct groups change nothing, in either mode
    for mode in ("soft", "mask"):
        assert clip_loss(img, txt, t, groups=torch.arange(5), duplicates=mode).loss.item() == pytest.approx(
            out.loss.item(), rel=1e-6
        )


def test_scale_is_clamped_at_100():
    img = torch.eye(3)
    logits = clip_logits(img, img, torch.tensor(10.0))  # e^10 would be 22,026
    assert logits.max().item() == pytest.approx(100.0)


def test_duplicate_captions():
    g = torch.Generator().manual_seed(1)
    img, txt = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    groups = torch.tensor([0, 1, 0, 2, 1, 0])
    same = [[j for j in range(6) if groups[j] == groups[i]] for i in range(6)]
    t = torch.tensor(0.5)
    soft = clip_loss(img, txt, t, groups=groups, duplicates="soft").loss.item()
    assert soft == pytest.approx(direct_loss(img, txt, math.exp(0.5), positives=same), rel=1e-5)
    masked = clip_loss(img, txt, t, groups=groups, duplicates="mask").loss.item()
    removed = [set(same[i]) - {i} for i in range(6)]
    assert masked == pytest.approx(direct_loss(img, txt, math.exp(0.5), removed=removed), rel=1e-5)
    # identical captions for a group: plain CLIP cannot reach its optimum, masking can get close to 0
    txt_dup = torch.eye(3)[groups]  # (6, 3): one text embedding per meaning
    img_dup = torch.eye(3)[groups]
    big = torch.tensor(math.log(100.0))
    plain = clip_loss(img_dup, txt_dup, big).loss.item()
    assert plain == pytest.approx((3 * math.log(3) + 2 * math.log(2)) / 6, rel=1e-3)  # duplicates tie with the positive
    assert clip_loss(img_dup, txt_dup, big, groups=groups, duplicates="mask").loss.item() < 1e-6
    soft_dup = clip_loss(img_dup, txt_dup, big, groups=groups).loss.item()
    assert soft_dup == pytest.approx(plain, rel=1e-3)  # soft targets: the entropy of the targets, its minimum
    assert clip_loss(img_dup, txt_dup, big, groups=groups).accuracy.item() == 1.0
    with pytest.raises(ValueError, match="duplicates"):
        clip_loss(img, txt, t, groups=groups, duplicates="drop")
    with pytest.raises(ValueError, match="one shape"):
        clip_loss(img, txt[:3], t)


def tiny_data(n=64):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 1, 28, 28, generator=g) * 2 - 1, torch.arange(n) % 10


def test_one_step_changes_every_parameter():
    torch.manual_seed(0)
    model = MiniCLIP(CLIPConfig.preset("ci"))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    x, y = tiny_data(8)
    pairs_x = torch.rand(4, 1, 28, 56) * 2 - 1
    pairs_y = torch.tensor([[0, 1], [2, 3], [4, 5], [6, 7]])
    captions = [f"a photo of a {w}" for w in ("bag", "coat", "dress", "shirt", "sandal", "sneaker", "trouser", "bag")]
    pair_captions = ["a bag to the left of a coat"] * 4
    stats = clip_train_step(
        model,
        opt,
        x,
        captions,
        y,
        pair_images=pairs_x,
        pair_captions=pair_captions,
        pair_groups=pair_group_ids(pairs_y, 10),
    )
    assert set(stats) == {"loss", "accuracy", "scale", "grad_norm"} and stats["loss"] > 0
    unused = {"text.token_embed.weight"}  # rows of unused words keep their values: checked below
    for n, p in model.named_parameters():
        if n not in unused:
            assert not torch.equal(before[n], p), n
    changed_rows = (before["text.token_embed.weight"] != model.text.token_embed.weight).any(1)
    used = model.tokenize(captions + pair_captions).ids.unique()
    assert changed_rows[used].all()


def test_train_resume_export_and_load(tmp_path):
    x, y = tiny_data()
    cfg = CLIPTrainConfig.preset("ci", steps=4, batch_size=16, checkpoint_every=2)
    run = CLIPRun(CLIPConfig.preset("ci"), cfg)
    train_clip(run, x, y, checkpoint_path=tmp_path / "c.pt", steps=2, progress=False)
    straight = CLIPRun(CLIPConfig.preset("ci"), cfg)
    train_clip(straight, x, y, progress=False)
    resumed = CLIPRun.load(tmp_path / "c.pt")
    assert resumed.step == 2
    train_clip(resumed, x, y, progress=False)
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.allclose(a, b, atol=1e-6)  # resume continues exactly (captions and pairs included)
    assert resumed.history["loss"] == pytest.approx(straight.history["loss"], rel=1e-5)
    export_clip(resumed, tmp_path / "small.pt", note="test")
    loaded = load_clip(tmp_path / "small.pt")
    assert loaded.step == 4 and loaded.info == {"note": "test"} and not loaded.training
    assert not any(p.requires_grad for p in loaded.parameters())  # frozen, as Stable Diffusion's text encoder
    prompt = ["a photo of a bag", ""]
    assert torch.allclose(loaded.encode_text(prompt).tokens, resumed.model.eval().encode_text(prompt).tokens, atol=1e-5)
    with pytest.raises(CheckpointError, match="cannot be resumed"):
        CLIPRun.load(tmp_path / "small.pt")


def test_checkpoint_errors(tmp_path):
    save_checkpoint(tmp_path / "gan.pt", {"x": 1}, kind="gan")
    with pytest.raises(CheckpointError, match="'gan' checkpoint"):
        load_clip(tmp_path / "gan.pt")
    (tmp_path / "broken.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_clip(tmp_path / "broken.pt")
    save_checkpoint(tmp_path / "odd.pt", {"model_config": {"colour": 1}, "model": {}, "step": 0}, kind="clip")
    with pytest.raises(CheckpointError, match="no valid CLIP config"):
        load_clip(tmp_path / "odd.pt")
    run = CLIPRun(CLIPConfig.preset("ci"), CLIPTrainConfig.preset("ci"))
    state = run.state()
    state["model_config"] = {**state["model_config"], "width": 64, "heads": 2}
    save_checkpoint(tmp_path / "mismatch.pt", state, kind="clip")
    with pytest.raises(CheckpointError, match="does not match"):
        load_clip(tmp_path / "mismatch.pt")


def test_bad_config_and_input():
    with pytest.raises(ValueError, match="pair_fraction"):
        CLIPTrainConfig(pair_fraction=1.0)
    with pytest.raises(ValueError, match="No captions"):
        CLIPTrainConfig(dataset="cifar10")
    run = CLIPRun(CLIPConfig.preset("ci"), CLIPTrainConfig.preset("ci", steps=1))
    x, y = tiny_data()
    with pytest.raises(ValueError, match="Expected images"):
        train_clip(run, x.repeat(1, 3, 1, 1), y, progress=False)


def test_clip_train_preset_contract(check_preset):
    check_preset(CLIPTrainConfig.preset, "CLIPTrainConfig.preset", steps=3, batch_size=2, warmup_steps=1)


@pytest.fixture(scope="module")
def trained():
    """A ci-size CLIP after 60 steps on 2,000 real Fashion-MNIST images (a few seconds)."""
    data = load_images("fashion_mnist", "train", limit=2_000)
    cfg = CLIPTrainConfig.preset("ci", steps=60, batch_size=64, lr=3e-3)
    run = CLIPRun(CLIPConfig.preset("ci"), cfg)
    train_clip(run, data.images, data.labels, progress=False)
    return run.model.eval()


def test_zero_shot_accuracy_above_chance(trained):
    test = load_images("fashion_mnist", "test", limit=500)
    zs = zero_shot_accuracy(trained, test.images, test.labels)
    assert zs.accuracy > 0.4  # chance is 0.1; seeds 0-2 give 0.68-0.72
    assert zs.per_class.shape == (10,) and zs.prompts[7] == "a photo of a sneaker"
    assert zs.accuracy == pytest.approx((zs.predictions == test.labels).float().mean().item())


def test_clip_score_and_rerank(trained):
    test = load_images("fashion_mnist", "test", limit=500)
    trousers, bags = test.images[test.labels == 1][:20], test.images[test.labels == 8][:20]
    s_right = clip_score(trained, trousers, "a photo of a trouser")
    s_wrong = clip_score(trained, trousers, "a photo of a bag")
    assert s_right.shape == (20,) and (s_right >= 0).all() and (s_right <= 100).all()
    assert s_right.mean() > s_wrong.mean()
    assert torch.allclose(clip_score(trained, trousers, ["a photo of a trouser"] * 20), s_right)
    mixed = torch.cat([bags[:15], trousers[:5]])
    top = rerank(trained, mixed, "a photo of a trouser", 5)
    assert top.images.shape == (5, 1, 28, 28) and (top.scores[:-1] >= top.scores[1:]).all()
    assert (top.indices >= 15).sum() >= 4  # the trousers rise to the top
    with pytest.raises(ValueError, match="k must be"):
        rerank(trained, mixed, "a photo of a bag", 21)
    with pytest.raises(ValueError, match="one prompt or one per image"):
        clip_score(trained, trousers, ["a bag", "a coat"])


def test_composition_accuracy(trained):
    test = load_images("fashion_mnist", "test", limit=500)
    pairs = compose_pairs(test.images, test.labels, 200, rng=torch.Generator().manual_seed(0))
    score = composition_accuracy(trained, pairs.images, pairs.labels)
    assert 0 <= score.accuracy <= score.items <= 1 and score.predictions.shape == (200, 2)
    assert score.accuracy > 0.05  # chance is 1/90 (seed 0 gives 0.13 exact, 0.21 in either order)
    manual = (score.predictions == pairs.labels).all(1).float().mean().item()
    assert score.accuracy == pytest.approx(manual)


def test_train_clip_command(tmp_path):
    parser = argparse.ArgumentParser()
    train = parser.add_subparsers().add_parser("train").add_subparsers()
    clip_cli.add_commands(train=train)
    out = tmp_path / "run"
    argv = ["train", "clip", "--profile", "ci", "--steps", "4", "--out", str(out), "--no-progress", "--threads", "1"]
    args = parser.parse_args([*argv, "--export", str(tmp_path / "clip.pt"), "--eval-every", "2"])
    threads = torch.get_num_threads()
    try:
        assert args.func(args) == 0
    finally:
        torch.set_num_threads(threads)  # --threads is process-wide
    summary = json.loads((out / "zero_shot.json").read_text())
    assert summary["step"] == 4 and 0 <= summary["zero_shot_accuracy"] <= 1
    assert load_clip(tmp_path / "clip.pt").step == 4
    args = parser.parse_args([*argv[:5], "6", *argv[6:]])  # resume to 6 steps
    try:
        assert args.func(args) == 0
    finally:
        torch.set_num_threads(threads)
    assert json.loads((out / "zero_shot.json").read_text())["step"] == 6


def test_shipped_clip_is_intact_and_good():
    from sdgan_course.train.clip import load_shipped_clip

    model = load_shipped_clip("clip_fashion_mnist")  # checked against data/SHA256SUMS
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    enc = model.encode_text(["a photo of a sneaker", ""])  # the empty prompt is guidance's null condition
    assert enc.tokens.shape == (2, 24, 64) and enc.mask[1].sum() == 2
    test = load_images("fashion_mnist", "test", limit=1_000)
    assert zero_shot_accuracy(model, test.images, test.labels).accuracy > 0.85  # 0.902 on all 10,000
    assert zero_shot_accuracy(model, test.images, test.labels, template="A picture of a {name}.").accuracy > 0.85
    from sdgan_course.data.wordings import PLURALS
    from sdgan_course.metrics.clip_score import zero_shot_predict

    plurals = [f"a photo of {PLURALS[c][0]}" for c in range(10)]  # "a photo of trousers", "... sneakers", ...
    assert (zero_shot_predict(model, test.images, plurals) == test.labels).float().mean() > 0.85


def test_meaning_ids_separate_attributes_from_classes_and_pairs():
    from sdgan_course.train.clip import pair_group_ids, single_group_ids

    labels, attributes = torch.tensor([4, 4, 4, 3]), torch.tensor([0, 1, 2, 0])
    ids = single_group_ids(labels, attributes, 10)
    assert ids.tolist() == [4, 110 + 4, 120 + 4, 3]  # "a coat", "a dark coat", "a light coat", "a dress"
    pairs = pair_group_ids(torch.tensor([[9, 9]]), 10)
    assert pairs.item() < 110  # the last pair id comes before the first attribute id
