"""VGG-16 (Simonyan & Zisserman 2015, configuration D, no BatchNorm), after torchvision.

Scaled: the input is 32x32 instead of 224x224, so the feature extractor ends at 1x1 and is
pooled to ``pool`` x ``pool`` (1, torchvision: 7) before the classifier, whose hidden width
is ``hidden`` (512, torchvision: 4096). The 13 3x3 convs with ReLU, five max-pools and the
three-layer classifier with ReLU and dropout 0.5 are unchanged. ``width`` is the first conv
width (64 in the paper); ``num_classes`` defaults to 10.
"""

from __future__ import annotations

import torch
from torch import nn

from moccasin.torch.zoo._seed import image_batch, seeded

_CFG_D = [1, 1, "M", 2, 2, "M", 4, 4, 4, "M", 8, 8, 8, "M", 8, 8, 8, "M"]  # in units of width


class VGG(nn.Module):
    def __init__(self, num_classes=10, width=64, hidden=512, pool=1, dropout=0.5):
        super().__init__()
        layers, cin = [], 3
        for v in _CFG_D:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers += [nn.Conv2d(cin, v * width, 3, padding=1), nn.ReLU(inplace=True)]
                cin = v * width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(pool)
        self.classifier = nn.Sequential(
            nn.Linear(cin * pool * pool, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.classifier(torch.flatten(self.pool(self.features(x)), 1))


def vgg16(batch=4, image=32, width=64, hidden=512, pool=1, num_classes=10, seed=0):
    """VGG-16 and a ``(batch, 3, image, image)`` input (``image`` a multiple of 32)."""
    with seeded(seed):
        model = VGG(num_classes=num_classes, width=width, hidden=hidden, pool=pool)
        return model, (image_batch(batch, image),)
