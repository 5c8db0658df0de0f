"""zeroin.utils.summary: torchinfo's model table (zeroin/utils/model_summary.py)."""
import numpy as np
import pytest

import zeroin
from zeroin import nn
from zeroin.utils import summary


def _mlp():
    return nn.Sequential(nn.Linear(4, 8, dtype=zeroin.float32), nn.ReLU(),
                         nn.Linear(8, 2, dtype=zeroin.float32))


def test_an_mlps_table_by_hand(capsys):
    stats = summary(_mlp(), input_size=(5, 4), verbose=0)
    assert capsys.readouterr().out == ""
    rows = stats.summary_list
    assert [(r.class_name, r.depth, r.depth_index) for r in rows] == [
        ("Sequential", 0, 1), ("Linear", 1, 1), ("ReLU", 1, 2), ("Linear", 1, 3)]
    assert [r.output_size for r in rows] == [[5, 2], [5, 8], [5, 8], [5, 2]]
    assert rows[1].input_size == [5, 4]
    assert stats.total_params == stats.trainable_params == 4 * 8 + 8 + 8 * 2 + 2
    # a weight or bias element is used once per sample: 5 * (40 + 18)
    assert stats.total_mult_adds == 5 * 58
    text = str(stats)
    for line in ("├─Linear: 1-1                            [5, 8]                    40",
                 "├─ReLU: 1-2                              [5, 8]                    --",
                 "Total params: 58", "Trainable params: 58", "Non-trainable params: 0",
                 "Input size (MB): 0.00", "Params size (MB): 0.00"):
        assert line in text, line
    assert text.splitlines()[0] == "=" * 90
    summary(_mlp(), input_size=(5, 4), verbose=1)
    assert capsys.readouterr().out.strip() == text


def test_memory_estimates_and_frozen_layers():
    model = _mlp()
    model[2].requires_grad_(False)
    stats = summary(model, input_size=(500, 4), verbose=0)
    assert stats.trainable_params == 40 and stats.total_params == 58
    assert stats.total_input == 500 * 4 * 4
    # outputs of the layers with weights, and their gradients: 2 * (500*8 + 500*2) floats
    assert stats.total_output_bytes == 2 * (500 * 8 + 500 * 2) * 4
    assert stats.total_param_bytes == 58 * 4
    text = str(stats)
    assert "(18)" in text and "Non-trainable params: 18" in text      # (n): nothing trains
    assert "Forward/backward pass size (MB): 0.04" in text


def test_the_model_and_the_random_state_are_left_as_they_were():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Dropout(0.5))
    model.train()
    model[2].eval()
    mean = model[1].running_mean.numpy().copy()
    zeroin.manual_seed(3)
    expected = zeroin.rand(3).numpy()
    zeroin.manual_seed(3)
    summary(model, input_size=(6, 3), verbose=0)        # runs in eval mode, under no_grad
    assert zeroin.rand(3).numpy().tolist() == expected.tolist()
    assert [m.training for m in model.modules()] == [True, True, True, False]
    assert np.array_equal(model[1].running_mean.numpy(), mean)
    assert all(p.grad is None for p in model.parameters())
    summary(model, input_size=(6, 3), verbose=0, mode="train")
    assert not np.array_equal(model[1].running_mean.numpy(), mean)      # train mode: updated
    assert [m.training for m in model.modules()] == [True, True, True, False]


def test_inputs_given_several_and_integer():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 3)
            self.lin = nn.Linear(3, 2)

        def forward(self, idx, scale=1.0):
            return self.lin(self.emb(idx)) * scale

    model = Two()
    made = summary(model, input_size=(2, 5), dtypes=[zeroin.long], verbose=0)
    assert made.summary_list[1].output_size == [2, 5, 3]
    given = summary(model, input_data=[zeroin.tensor([[1, 2]])], verbose=0, scale=2.0)
    assert given.summary_list[-1].output_size == [1, 2, 2]
    kw = summary(model, input_data={"idx": zeroin.tensor([[1, 2, 3]])}, verbose=0)
    assert kw.summary_list[0].output_size == [1, 3, 2]
    tree = summary(model, verbose=0)     # no input: the tree and the counts
    assert str(tree).splitlines()[1] == "Layer (type:depth-idx)                   Param #"
    assert tree.total_params == 10 * 3 + 3 * 2 + 2


def test_bad_arguments_say_what_to_pass():
    with pytest.raises(ValueError, match="unknown col_names.*output_size"):
        summary(_mlp(), input_size=(1, 4), col_names=["output_shape"], verbose=0)
    with pytest.raises(ValueError, match="row_settings"):
        summary(_mlp(), input_size=(1, 4), row_settings=["depths"], verbose=0)
    with pytest.raises(TypeError, match="one shape"):
        summary(_mlp(), input_size=[(1, 4), "x"], verbose=0)
    with pytest.raises(ValueError, match="2 input sizes but 1 dtypes"):
        summary(_mlp(), input_size=[(1, 4), (1, 4)], dtypes=[zeroin.float32], verbose=0)


def _models(lib):
    nn_ = lib.nn
    f32 = lib.float32

    class TinyVGG(nn_.Module):          # ZTM's, with a frozen weight and a 1-D norm
        def __init__(self):
            super().__init__()
            self.block = nn_.Sequential(nn_.Conv2d(3, 10, 3, padding=1, dtype=f32),
                                        nn_.ReLU(), nn_.MaxPool2d(2))
            self.classifier = nn_.Sequential(nn_.Flatten(), nn_.Linear(2560, 10, dtype=f32))
            self.bn = nn_.BatchNorm1d(10, dtype=f32)
            self.block[0].weight.requires_grad_(False)

        def forward(self, x):
            return self.bn(self.classifier(self.block(x)))

    class Rec(nn_.Module):              # an LSTM's tuple output, a container not called
        def __init__(self):             # itself, a layer called twice, a frozen layer
            super().__init__()
            self.emb = nn_.Embedding(20, 8, dtype=f32)
            self.rnn = nn_.LSTM(8, 16, num_layers=2, batch_first=True, dtype=f32)
            self.head = nn_.Sequential(nn_.Sequential(nn_.Linear(16, 16, dtype=f32),
                                                      nn_.Tanh()),
                                       nn_.Linear(16, 4, dtype=f32))
            self.head[1].requires_grad_(False)

        def forward(self, x):
            out, _ = self.rnn(self.emb(x))
            return self.head[1](self.head[0](self.head[0](out[:, -1])))

    class Deep(nn_.Module):             # long labels below the depth shown (EfficientNet's
        def __init__(self):             # MBConv blocks): torchinfo widens the column by them
            super().__init__()
            self.stochastic_depth_and_squeeze = nn_.Sequential(nn_.Sequential(
                nn_.Linear(4, 4, dtype=f32), nn_.AdaptiveAvgPool1d(4)))

        def forward(self, x):
            return self.stochastic_depth_and_squeeze(x)

    return [(TinyVGG(), dict(input_size=[2, 3, 32, 32])),
            (Rec(), dict(input_size=(3, 5), dtypes=[lib.long])),
            (nn_.Sequential(nn_.Linear(4, 4, dtype=f32), nn_.Sequential(Deep(), nn_.ReLU())),
             dict(input_size=(2, 4)))]


@pytest.mark.parametrize("options", [
    {}, {"depth": 1}, {"depth": 2},
    {"col_names": ["input_size", "output_size", "num_params", "params_percent",
                   "kernel_size", "mult_adds", "trainable"], "col_width": 18,
     "row_settings": ["var_names", "depth"]},
    {"row_settings": ["var_names", "ascii_only"]}, {"no input": True}])
def test_the_tables_are_torchinfos(options):
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    options = dict(options)
    bare = options.pop("no input", False)
    for (tm, targs), (zm, zargs) in zip(_models(torch), _models(zeroin)):
        theirs = torchinfo.summary(tm, verbose=0, **({} if bare else targs), **options)
        ours = summary(zm, verbose=0, **({} if bare else zargs), **options)
        # torchinfo 1.8 prints its unit enum on Python 3.11+ ("Units.MEGABYTES" for "M")
        assert str(ours) == str(theirs).replace("Units.MEGABYTES", "M")
        assert ours.total_params == theirs.total_params
        assert ours.trainable_params == theirs.trainable_params
        if not bare:
            assert ours.total_mult_adds == theirs.total_mult_adds
