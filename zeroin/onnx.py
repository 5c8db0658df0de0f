"""PyTorch's ``torch.onnx`` names that model code and deployment tutorials call: zeroin
has no ONNX exporter (an ONNX file is a traced graph of ONNX operators; zeroin records
NumPy ops), so ``export`` is refused with the way to get the file, and
``is_in_onnx_export`` (read by model code to branch while exporting) is False."""

__all__ = ["export", "dynamo_export", "is_in_onnx_export"]

_HOW = ("zeroin has no ONNX exporter; to deploy the model, save its weights "
        "(zeroin.safetensors.save_file(model.state_dict(), 'model.safetensors')), load them "
        "into the same architecture in PyTorch (safetensors.torch.load_file) and call "
        "torch.onnx.export there")


def is_in_onnx_export():
    """``torch.onnx.is_in_onnx_export``: always False (zeroin never exports)."""
    return False


def export(model, args=(), f=None, *pos, **kwargs):
    """``torch.onnx.export``: refused, saying how to get the ONNX file."""
    raise NotImplementedError(f"onnx.export: {_HOW}")


def dynamo_export(model, *args, **kwargs):
    """``torch.onnx.dynamo_export``: refused, as :func:`export`."""
    raise NotImplementedError(f"onnx.dynamo_export: {_HOW}")
