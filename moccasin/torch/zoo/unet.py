"""U-Net (Ronneberger et al. 2015) with BatchNorm, as commonly trained today.

Scaled: ``base`` channels 16 (paper: 64) and ``depth`` 4 poolings as in the paper, on a
64x64 input (paper: 572x572); convolutions are padded so the skip connections need no
cropping. Kept: double 3x3 conv blocks (conv, BatchNorm, ReLU, twice), max-pool
downsampling, 2x2 transposed-conv upsampling, skip connections by channel concatenation,
a 1x1 output conv to ``num_classes`` per-pixel logits.
"""

from __future__ import annotations

import torch
from torch import nn

from moccasin.torch.zoo._seed import image_batch, seeded


def _double_conv(cin, cout):
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
    )


class UNet(nn.Module):
    def __init__(self, in_channels=3, num_classes=2, base=16, depth=4):
        super().__init__()
        widths = [base * 2**i for i in range(depth + 1)]
        self.down = nn.ModuleList([_double_conv(in_channels, widths[0])])
        self.down.extend(_double_conv(widths[i], widths[i + 1]) for i in range(depth))
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList(nn.ConvTranspose2d(widths[i + 1], widths[i], 2, stride=2) for i in reversed(range(depth)))
        self.up_conv = nn.ModuleList(_double_conv(2 * widths[i], widths[i]) for i in reversed(range(depth)))
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x):
        skips = []
        for i, block in enumerate(self.down):
            x = block(x if i == 0 else self.pool(x))
            skips.append(x)
        skips.pop()  # the bottleneck output is x itself
        for up, conv in zip(self.up, self.up_conv):
            x = conv(torch.cat([skips.pop(), up(x)], dim=1))
        return self.head(x)


def unet(batch=2, image=64, base=16, depth=4, num_classes=2, seed=0):
    """U-Net and a ``(batch, 3, image, image)`` input (``image`` a multiple of ``2**depth``)."""
    with seeded(seed):
        return UNet(num_classes=num_classes, base=base, depth=depth), (image_batch(batch, image),)
