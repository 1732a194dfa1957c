"""ResNet-18 and ResNet-50 (He et al. 2016), written after torchvision's layout (v1.5:
stride on the 3x3 conv of a bottleneck).

Scaled: the input is 64x64 instead of 224x224 and the batch is small; the architecture
(7x7 stem, max-pool, four stages of BasicBlocks [2,2,2,2] or Bottlenecks [3,4,6,3],
BatchNorm, residual additions, 1x1 projection shortcuts, global average pool, linear head)
is unchanged. ``width`` is the stem width (64 in the paper); ``num_classes`` defaults to 10.
"""

from __future__ import annotations

import torch
from torch import nn

from moccasin.torch.zoo._seed import image_batch, seeded


def _conv_bn(cin, cout, k, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout)
    )


class BasicBlock(nn.Module):
    """Two 3x3 convs with BatchNorm; identity or 1x1-projection shortcut."""

    expansion = 1

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = _conv_bn(cin, planes, 3, stride)
        self.conv2 = _conv_bn(planes, cout, 3)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        out = self.relu(self.conv1(x))
        out = self.conv2(out)
        return self.relu(out + self.shortcut(x))


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand x4, each with BatchNorm; residual add."""

    expansion = 4

    def __init__(self, cin, planes, stride=1):
        super().__init__()
        cout = planes * self.expansion
        self.conv1 = _conv_bn(cin, planes, 1)
        self.conv2 = _conv_bn(planes, planes, 3, stride)
        self.conv3 = _conv_bn(planes, cout, 1)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = _conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else nn.Identity()

    def forward(self, x):
        out = self.relu(self.conv1(x))
        out = self.relu(self.conv2(out))
        out = self.conv3(out)
        return self.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stem, four residual stages (widths w, 2w, 4w, 8w), pooled linear classifier."""

    def __init__(self, block, layers, num_classes=10, width=64):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, 7, stride=2, padding=3, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=2, padding=1),
        )
        stages, cin = [], width
        for i, n in enumerate(layers):
            planes = width * 2**i
            for j in range(n):
                stages.append(block(cin, planes, stride=2 if (i > 0 and j == 0) else 1))
                cin = planes * block.expansion
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(cin, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        x = self.stages(self.stem(x))
        return self.fc(torch.flatten(self.pool(x), 1))


def _build(block, layers, batch, image, width, num_classes, seed):
    with seeded(seed):
        model = ResNet(block, layers, num_classes=num_classes, width=width)
        return model, (image_batch(batch, image),)


def resnet18(batch=4, image=64, width=64, num_classes=10, seed=0):
    """ResNet-18 (BasicBlock x [2,2,2,2]) and a ``(batch, 3, image, image)`` input."""
    return _build(BasicBlock, [2, 2, 2, 2], batch, image, width, num_classes, seed)


def resnet50(batch=4, image=64, width=64, num_classes=10, seed=0):
    """ResNet-50 (Bottleneck x [3,4,6,3]) and a ``(batch, 3, image, image)`` input."""
    return _build(Bottleneck, [3, 4, 6, 3], batch, image, width, num_classes, seed)
