"""The private PyTorch APIs the tracer needs, behind one version check.

AOTAutograd's joint export is private and changes between releases; we support only the
versions we have tested, and say so in one line instead of failing deep inside torch.
"""

from __future__ import annotations

from moccasin.errors import MoccasinError

#: Major.minor releases of torch the tracer was tested with.
SUPPORTED_TORCH = ("2.13",)


class UnsupportedTorch(MoccasinError):
    """The installed torch lacks (or changed) the private APIs the tracer relies on."""


def torch_release() -> str:
    import torch

    return ".".join(torch.__version__.split("+")[0].split(".")[:2])


def joint_export_api():
    """``aot_export_joint_with_descriptors`` and ``unset_fake_temporarily``, or a clear error."""
    release = torch_release()
    if release not in SUPPORTED_TORCH:
        raise UnsupportedTorch(
            f"moccasin.trace supports torch {', '.join(SUPPORTED_TORCH)} (found {release}): "
            f"it uses private AOTAutograd APIs; pip install torch==2.13.0"
        )
    try:
        from torch._functorch.aot_autograd import aot_export_joint_with_descriptors
        from torch._subclasses.fake_tensor import unset_fake_temporarily
    except ImportError as e:  # pragma: no cover - only on a broken or patched torch
        raise UnsupportedTorch(
            f"moccasin.trace needs torch {', '.join(SUPPORTED_TORCH)} with AOTAutograd's joint export ({e})"
        ) from None
    return aot_export_joint_with_descriptors, unset_fake_temporarily
