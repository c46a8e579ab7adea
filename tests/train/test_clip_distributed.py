"""CLIP under DDP: the embeddings of every rank are gathered (with their gradients), so two gloo processes compute
the loss and the gradients that one process computes on the whole global batch (local negatives alone give a
different, easier objective: each image is contrasted with B/N captions instead of B)."""

import torch

from sdgan_course import distributed
from sdgan_course.models.text_encoder import CLIPConfig, MiniCLIP
from sdgan_course.train.clip import clip_train_step

GLOBAL_BATCH = 8


def _batch():
    g = torch.Generator().manual_seed(3)
    images = torch.rand(GLOBAL_BATCH, 1, 28, 28, generator=g) * 2 - 1
    groups = torch.tensor([0, 1, 2, 3, 0, 4, 5, 1])  # duplicates across the ranks' halves
    words = ["shirt", "trouser", "pullover", "dress", "coat", "sandal"]
    captions = [f"a photo of a {words[int(k)]}" for k in groups]
    return images, captions, groups


def clip_grads(duplicates: str) -> dict:
    """One CLIP step (lr 0: the gradients stay, the weights do not move) on this rank's part of the global batch."""
    torch.manual_seed(0)
    model = MiniCLIP(CLIPConfig.preset("ci"))
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    images, captions, groups = _batch()
    n, r = distributed.world_size(), distributed.rank()
    rows = slice(r * GLOBAL_BATCH // n, (r + 1) * GLOBAL_BATCH // n)
    step_model = distributed.wrap_ddp_methods(model, ("encode_image", "encode_text"))
    stats = clip_train_step(step_model, opt, images[rows], captions[rows], groups[rows], duplicates=duplicates,
                            max_grad_clip=None)
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return {"stats": stats, "grads": grads, "world_size": n}


def test_two_processes_have_the_loss_and_gradients_of_one():
    for duplicates in ("soft", "mask"):
        one = clip_grads(duplicates)
        two = distributed.run_processes(clip_grads, 2, duplicates)
        assert [r["world_size"] for r in two] == [2, 2]
        for rank in two:
            assert abs(rank["stats"]["loss"] - one["stats"]["loss"]) < 1e-6, (duplicates, rank["stats"], one["stats"])
            assert abs(rank["stats"]["accuracy"] - one["stats"]["accuracy"]) < 1e-6
            assert set(rank["grads"]) == set(one["grads"])
            for name, grad in one["grads"].items():  # float32 sums split in two halves: 1e-6 of the tensor's scale
                err = (rank["grads"][name] - grad).abs().max().item()
                # float32 sums in another order: 24 text positions leave differences of a few 1e-6 (2.7e-6 seen)
                assert err <= 5e-6 * max(1.0, grad.abs().max().item()), (duplicates, name, err)
        assert max(g.abs().max().item() for g in one["grads"].values()) > 1e-3  # the gradients are not all 0


def test_the_gather_is_a_no_op_in_one_process():
    x = torch.randn(3, 4, requires_grad=True)
    assert distributed.all_gather_with_grad(x) is x
