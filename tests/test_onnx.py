"""zeroin.onnx: the names model code and deployment tutorials call."""
import pytest

import zeroin
from zeroin import nn


def test_is_in_onnx_export_is_false_for_model_code_that_branches_on_it():
    assert zeroin.onnx.is_in_onnx_export() is False


@pytest.mark.parametrize("name", ["export", "dynamo_export"])
def test_export_is_refused_with_the_way_to_get_the_file(name, tmp_path):
    model = nn.Linear(3, 2)
    path = tmp_path / "model.onnx"
    with pytest.raises(NotImplementedError, match=rf"onnx\.{name}: zeroin has no ONNX "
                                                  r"exporter.*safetensors.*torch\.onnx\.export"):
        getattr(zeroin.onnx, name)(model, (zeroin.randn(1, 3),), str(path))
    assert not path.exists()


def test_import_zeroin_onnx_as_torch_code_does():
    import zeroin.onnx as onnx
    assert onnx is zeroin.onnx and "onnx" in dir(zeroin)
