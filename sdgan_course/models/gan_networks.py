r"""The GAN networks: the MLP pair and the DCGAN pair, and the input checks they share.

Every discriminator returns **logits** (real numbers, no sigmoid): the losses in :mod:`sdgan_course.losses.gan` take
logits, which is both numerically safer (``softplus`` instead of ``log(sigmoid(.))``) and what the Wasserstein and
hinge losses need. ``torch.sigmoid(logit)`` is the probability "real" when a learner wants to see one.

Every generator ends in ``tanh``, so its images are in [-1, 1], the model range of :mod:`sdgan_course.data.images`.

- :class:`MLPGenerator` / :class:`MLPDiscriminator`: the classic fully connected pair,
  z (100) -> 128 -> 256 -> 512 -> 1024 -> 784, reshaped to (1, 28, 28) since 784 = 28 x 28.
- :class:`DCGANGenerator` / :class:`DCGANDiscriminator`: Radford, Metz and Chintala 2015 (arXiv:1511.06434):
  transposed convolutions up, strided convolutions down, batch norm, ReLU in G, LeakyReLU(0.2) in D, N(0, 0.02)
  initialisation, for 28 x 28, 32 x 32 and 64 x 64 images. Kernel 4, stride 2, padding 1 is the choice of
  dcgan.torch and of the PyTorch DCGAN example (each layer exactly doubles or halves the size); Radford et al.'s own
  Theano code (Newmu/dcgan_code) used 5 x 5 kernels with padding 2; optionally a patch (map of logits) discriminator,
  spectral norm (Miyato et al. 2018, arXiv:1802.05957) and a projection discriminator for labels (Miyato and Koyama
  2018, arXiv:1802.05637).

The family around them (the noise prior, :class:`~sdgan_course.models.gan.GANConfig`, ``build_gan``, loading) is
:mod:`sdgan_course.models.gan`, which also re-exports every name here; the toy pairs for 1-D and 2-D data are in
:mod:`sdgan_course.models.toy`.

Shape legend: B batch, Z noise dimension (``z_dim``), K number of classes, C channels, H x W pixels, F feature channels,
h x w the size of a feature map or of a patch discriminator's map of logits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from ..nn.blocks import leaky_relu, maybe_spectral_norm, mlp_layers

IMAGE_SIZES = (28, 32, 64)
D_NORMS = ("batch", "none")
D_CONDITIONINGS = ("projection", "concat")

# image size -> (size of the first feature map, number of stride-2 up/down samplings)
_LAYOUT = {28: (7, 2), 32: (4, 3), 64: (4, 4)}


# ---------------------------------------------------------------- input checks


def check_image_size(image_size: int) -> tuple[int, int]:
    """(size of the first feature map, number of stride-2 samplings) of a DCGAN for ``image_size``."""
    if image_size not in _LAYOUT:
        raise ValueError(
            f"image_size={image_size!r} is not supported by the DCGAN models. Valid sizes: "
            f"{', '.join(map(str, IMAGE_SIZES))} (28: 7->14->28, 32: 4->8->16->32, 64: 4->8->16->32->64). "
            "Resize your images to one of them."
        )
    return _LAYOUT[image_size]


def check_labels(labels: torch.Tensor | None, num_classes: int, batch: int, who: str) -> None:
    """Labels are given exactly when ``who`` is class-conditional, one per sample: shape (B,)."""
    if num_classes == 0:
        if labels is not None:
            raise ValueError(
                f"{who} is unconditional (num_classes=0) but labels were given; build it with num_classes=K "
                "to condition on labels, or call it without labels."
            )
        return
    if labels is None:
        raise ValueError(f"{who} is class-conditional (num_classes={num_classes}): pass labels of shape ({batch},).")
    if labels.shape != (batch,):
        raise ValueError(f"{who} expects labels of shape ({batch},), got {tuple(labels.shape)}.")


# ---------------------------------------------------------------- MLP pair


class MLPGenerator(nn.Module):
    r"""The classic fully connected generator: z (100) -> 128 -> 256 -> 512 -> 1024 -> 784 -> (1, 28, 28).

    Hidden layers are ``Linear`` + ``LeakyReLU(0.2)``; the output layer is ``Linear`` + ``tanh`` so pixels land in
    [-1, 1] (the model range). The 784 = 28 x 28 outputs are reshaped to ``image_shape`` = (C, H, W) = (1, 28, 28)
    in PyTorch's channels-first layout — not (32, 32, 1), which would need 1024 numbers.

    Class-conditional (``num_classes`` = K > 0, Mirza and Osindero 2014, arXiv:1411.1784): a label embedding
    ``nn.Embedding(K, z_dim)`` is **concatenated** to z, so the first layer sees 2 z_dim numbers.
    """

    def __init__(
        self,
        *,
        z_dim: int = 100,
        hidden: Sequence[int] = (128, 256, 512, 1024),
        image_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 0,
    ):
        super().__init__()
        if len(image_shape) != 3:
            raise ValueError(f"image_shape must be (C, H, W), got {tuple(image_shape)}.")
        self.z_dim, self.num_classes, self.image_shape = z_dim, num_classes, tuple(image_shape)
        self.label_embedding = nn.Embedding(num_classes, z_dim) if num_classes > 0 else None
        layers = mlp_layers(z_dim * (2 if num_classes > 0 else 1), hidden, math.prod(self.image_shape))
        self.net = nn.Sequential(*layers, nn.Tanh(), nn.Unflatten(1, self.image_shape))

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(labels, self.num_classes, z.shape[0], "MLPGenerator")
        if self.label_embedding is not None:
            z = torch.cat([z, self.label_embedding(labels)], dim=1)  # (B, 2Z)
        return self.net(z)  # (B, C*H*W) -> tanh -> unflatten -> (B, C, H, W)


class MLPDiscriminator(nn.Module):
    r"""The classic fully connected discriminator: image (784) -> 512 -> 256 -> 1 logit, LeakyReLU(0.2).

    Returns logits of shape (B,), **no sigmoid**: the losses take logits. Class-conditional: a label embedding
    ``nn.Embedding(K, K)`` is concatenated with the flattened image (Mirza and Osindero 2014, arXiv:1411.1784).
    ``spectral_norm=True`` wraps every linear layer (Miyato et al. 2018, arXiv:1802.05957).
    """

    def __init__(
        self,
        *,
        image_shape: Sequence[int] = (1, 28, 28),
        hidden: Sequence[int] = (512, 256),
        num_classes: int = 0,
        spectral_norm: bool = False,
    ):
        super().__init__()
        self.image_shape, self.num_classes = tuple(image_shape), num_classes
        self.label_embedding = nn.Embedding(num_classes, num_classes) if num_classes > 0 else None
        self.flatten = nn.Flatten()
        self.net = nn.Sequential(*mlp_layers(math.prod(self.image_shape) + num_classes, hidden, 1,
                                             spectral_norm=spectral_norm))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(f"MLPDiscriminator expects images (B, {self.image_shape}), got {tuple(x.shape)}.")
        check_labels(labels, self.num_classes, x.shape[0], "MLPDiscriminator")
        h = self.flatten(x)  # (B, C*H*W)
        if self.label_embedding is not None:
            h = torch.cat([h, self.label_embedding(labels)], dim=1)  # (B, C*H*W + K)
        return self.net(h).squeeze(1)  # (B,)


# ---------------------------------------------------------------- DCGAN pair


class DCGANGenerator(nn.Module):
    r"""DCGAN generator (Radford et al. 2015, arXiv:1511.06434) for 28, 32 or 64 pixel images.

    z is projected by a ``Linear`` layer to a small feature map (C0, s, s) and up-sampled by transposed convolutions
    (kernel 4, stride 2, padding 1 doubles the size: out = (in - 1) 2 - 2 + 4 = 2 in), each followed by batch norm and
    ReLU; the last one outputs ``channels`` maps through ``tanh``.

    - 28: (2b, 7, 7) -> (b, 14, 14) -> (C, 28, 28)
    - 32: (4b, 4, 4) -> (2b, 8, 8) -> (b, 16, 16) -> (C, 32, 32)
    - 64: (8b, 4, 4) -> (4b, 8, 8) -> (2b, 16, 16) -> (b, 32, 32) -> (C, 64, 64)

    with b = ``base_channels``. Class-conditional: a label embedding ``nn.Embedding(K, z_dim)`` is concatenated to z.
    """

    def __init__(
        self,
        *,
        z_dim: int = 100,
        base_channels: int = 64,
        image_size: int = 28,
        channels: int = 1,
        num_classes: int = 0,
    ):
        super().__init__()
        start, num_up = check_image_size(image_size)
        self.z_dim, self.num_classes, self.image_size, self.channels = z_dim, num_classes, image_size, channels
        c0 = base_channels * 2 ** (num_up - 1)
        self.start_shape = (c0, start, start)
        self.label_embedding = nn.Embedding(num_classes, z_dim) if num_classes > 0 else None
        in_dim = z_dim * (2 if num_classes > 0 else 1)
        self.project = nn.Linear(in_dim, c0 * start * start, bias=False)
        self.unflatten = nn.Unflatten(1, self.start_shape)
        layers: list[nn.Module] = [nn.BatchNorm2d(c0), nn.ReLU(inplace=True)]
        width = c0
        for _ in range(num_up - 1):
            layers += [
                nn.ConvTranspose2d(width, width // 2, 4, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(width // 2),
                nn.ReLU(inplace=True),
            ]
            width //= 2
        layers += [nn.ConvTranspose2d(width, channels, 4, stride=2, padding=1), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_labels(labels, self.num_classes, z.shape[0], "DCGANGenerator")
        if self.label_embedding is not None:
            z = torch.cat([z, self.label_embedding(labels)], dim=1)  # (B, 2Z)
        h = self.unflatten(self.project(z))  # (B, C0*s*s) -> (B, C0, s, s)
        return self.net(h)  # (B, C, H, W)


class DCGANDiscriminator(nn.Module):
    r"""DCGAN discriminator (Radford et al. 2015, arXiv:1511.06434): strided convolutions, LeakyReLU(0.2).

    Convolutions with kernel 4, stride 2, padding 1 halve the size, doubling the channels from b = ``base_channels``:

    - 28: (C, 28, 28) -> (b, 14, 14) -> (2b, 7, 7)
    - 32: -> (b, 16, 16) -> (2b, 8, 8) -> (4b, 4, 4)
    - 64: -> (b, 32, 32) -> (2b, 16, 16) -> (4b, 8, 8) -> (8b, 4, 4)

    The features phi(x) are then read out as logits (no sigmoid):

    - ``patch=False``: psi(phi(x)) = a ``Linear`` layer on the flattened features, shape (B,);
    - ``patch=True``: a 3 x 3 convolution, one logit per location, shape (B, 1, h, w): each logit judges one patch of
      the image (its receptive field, see
      :func:`sdgan_course.nn.inspect.receptive_field`), as in PatchGAN (Isola et al. 2017,
      arXiv:1611.07004).

    ``norm="batch"`` puts batch norm after every convolution but the first (as in the paper); ``norm="none"`` leaves it
    out, which WGAN-GP and R1 need because their penalties are per sample. ``spectral_norm=True`` wraps every
    convolution and linear layer (Miyato et al. 2018, arXiv:1802.05957).

    Class-conditional (``num_classes`` = K > 0), as :class:`~sdgan_course.models.gan.GANConfig` (same default):

    - ``conditioning="concat"`` (the default): one-hot label maps as K extra input channels, as ``conv_cond_concat``
      does in the DCGAN code (Newmu/dcgan_code, ``mnist/train_cond_dcgan.py``); Mirza and Osindero 2014
      (arXiv:1411.1784) concatenated the label to the inputs of MLPs;
    - ``conditioning="projection"``: the projection discriminator (Miyato and Koyama 2018, arXiv:1802.05637, eq. 3)

        D(x, y) = psi(phi(x)) + <embed(y), phi(x)>

      with the inner product over the flattened features (or, for ``patch=True``, over the channels at each location).
    """

    def __init__(
        self,
        *,
        base_channels: int = 64,
        image_size: int = 28,
        channels: int = 1,
        num_classes: int = 0,
        norm: str = "batch",
        spectral_norm: bool = False,
        patch: bool = False,
        conditioning: str = "concat",
    ):
        super().__init__()
        end, num_down = check_image_size(image_size)
        if norm not in D_NORMS:
            raise ValueError(f"norm={norm!r} is not known. Valid values: {', '.join(map(repr, D_NORMS))}.")
        if conditioning not in D_CONDITIONINGS:
            raise ValueError(f"conditioning={conditioning!r} is not known. Valid values: {', '.join(D_CONDITIONINGS)}.")
        self.image_size, self.channels, self.num_classes, self.patch = image_size, channels, num_classes, patch
        self.conditioning = conditioning if num_classes > 0 else None
        layers: list[nn.Module] = []
        width_in, width = channels + (num_classes if self.conditioning == "concat" else 0), base_channels
        for i in range(num_down):
            layers.append(
                maybe_spectral_norm(
                    nn.Conv2d(width_in, width, 4, stride=2, padding=1, bias=norm == "none"), spectral_norm
                )
            )
            if i > 0 and norm == "batch":
                layers.append(nn.BatchNorm2d(width))
            layers.append(leaky_relu())
            width_in, width = width, width * 2
        self.features = nn.Sequential(*layers)
        self.feature_shape = (width_in, end, end)
        self.flatten = nn.Flatten()
        if patch:
            self.head = maybe_spectral_norm(nn.Conv2d(width_in, 1, 3, stride=1, padding=1), spectral_norm)
            embed_dim = width_in
        else:
            embed_dim = width_in * end * end
            self.head = maybe_spectral_norm(nn.Linear(embed_dim, 1), spectral_norm)
        self.embedding = nn.Embedding(num_classes, embed_dim) if self.conditioning == "projection" else None
        if self.embedding is not None:
            nn.init.normal_(self.embedding.weight, 0.0, 1.0 / math.sqrt(embed_dim))

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        expected = (self.channels, self.image_size, self.image_size)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"DCGANDiscriminator expects images (B, {expected}), got {tuple(x.shape)}.")
        check_labels(labels, self.num_classes, x.shape[0], "DCGANDiscriminator")
        if self.conditioning == "concat":  # one-hot label maps as extra input channels (DCGAN's conv_cond_concat)
            maps = F.one_hot(labels, self.num_classes).to(x.dtype)[:, :, None, None]  # (B, K, 1, 1)
            x = torch.cat([x, maps.expand(-1, -1, *x.shape[2:])], dim=1)  # (B, C+K, H, W)
        h = self.features(x)  # (B, F, h, w)
        if self.patch:
            logits = self.head(h)  # (B, 1, h, w)
            if self.embedding is not None:
                e = self.embedding(labels)[:, :, None, None]  # (B, F, 1, 1)
                logits = logits + (e * h).sum(dim=1, keepdim=True)  # (B, 1, h, w)
            return logits
        h = self.flatten(h)  # (B, F*h*w)
        logits = self.head(h).squeeze(1)  # (B,)
        if self.embedding is not None:
            logits = logits + (self.embedding(labels) * h).sum(dim=1)  # (B,)
        return logits
