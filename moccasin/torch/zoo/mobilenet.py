"""MobileNetV2 (Sandler et al. 2018), written after torchvision's layout.

Scaled: the input is 64x64 instead of 224x224 and the batch is small; the architecture
(3x3 stem, 17 inverted-residual blocks with expansion 6, depthwise 3x3 convs, linear
bottlenecks, residual adds where shapes match, BatchNorm, ReLU6, 1x1 conv to 1280, dropout
0.2 and a linear classifier) is unchanged. ``width_mult`` scales channels as in the paper;
``num_classes`` defaults to 10.
"""

from __future__ import annotations

import torch
from torch import nn

from moccasin.torch.zoo._seed import image_batch, seeded

# expansion t, output channels c, repeats n, first stride s (Table 2 of the paper)
_CONFIG = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def _divisible(v, divisor=8):
    """Round channels to a multiple of 8, never below 90% of ``v`` (torchvision's rule)."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def _conv_bn_relu6(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


class InvertedResidual(nn.Module):
    """1x1 expand (ReLU6), 3x3 depthwise (ReLU6), 1x1 linear project; add input if shapes match."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = int(round(cin * expand))
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [_conv_bn_relu6(cin, hidden, 1)]
        layers += [
            _conv_bn_relu6(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=10, width_mult=1.0, dropout=0.2):
        super().__init__()
        cin = _divisible(32 * width_mult)
        last = _divisible(1280 * max(1.0, width_mult))
        layers = [_conv_bn_relu6(3, cin, 3, 2)]
        for t, c, n, s in _CONFIG:
            cout = _divisible(c * width_mult)
            for i in range(n):
                layers.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        layers.append(_conv_bn_relu6(cin, last, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(last, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def mobilenet_v2(batch=4, image=64, width_mult=1.0, num_classes=10, seed=0):
    """MobileNetV2 and a ``(batch, 3, image, image)`` input."""
    with seeded(seed):
        return MobileNetV2(num_classes=num_classes, width_mult=width_mult), (image_batch(batch, image),)
