"""Audit against MIT 6.S191 (Introduction to Deep Learning), the PyTorch labs of 2025: Lab 1
(intro to PyTorch; music generation with an LSTM) and Lab 2 (MNIST digit classification;
debiasing facial detection with a DB-VAE), each lab's code as the lab writes it, run with
``torch`` and with ``zeroin`` (``import zeroin as torch``, ``from zeroin import nn``,
``zeroin.nn.functional as F``) on the same data and weights (copied from torch, or drawn
from PyTorch's stream with ``use_torch_stream``): float32, the labs' dtype, compared to float
resolution, float64 to 1e-10. The ``mitdeeplearning`` helpers the labs call (the ABC songs,
the face loader) are replaced by small seeded data made here (no download). See
docs/mit6s191.md."""
import numpy as np
import pytest
from _audit import close as _close
from _audit import copy_weights as _copy
from _audit import np_of as _np
from _audit import (
    torch_defaults_back,  # noqa: F401  (autouse: torch's dtype and stream back)
    torch_stream,
)

import zeroin

torch = pytest.importorskip("torch")
LIBS = (torch, zeroin)
F32 = dict(rtol=2e-5, atol=2e-6)          # a few float32 ops
NET32 = dict(rtol=2e-4, atol=2e-5)        # float32 through a network and a few steps
F64 = dict(rtol=1e-10, atol=1e-12)


def _nn(lib):
    return lib.nn, lib.nn.functional


def _weights_of(tmodel, model):
    """``model`` (torch's or zeroin's) with the weights and buffers of torch's ``tmodel``."""
    if isinstance(model, torch.nn.Module):
        model.load_state_dict(tmodel.state_dict())
        return model
    return _copy(tmodel, model)


# --- Lab 1, part 1: intro to PyTorch -------------------------------------------------------------

def test_lab1_1_tensors_and_the_computation_graph(f32):
    res = {}
    for lib in LIBS:
        integer, decimal = lib.tensor(1234), lib.tensor(3.14159265359)
        assert integer.ndim == decimal.ndim == 0
        # the lab prints f"{decimal}": PyTorch formats a 0-d tensor as its Python number
        assert f"{integer}" == "1234"
        fibonacci = lib.tensor([1, 1, 2, 3, 5, 8])
        count_to_100 = lib.tensor(range(100))
        assert fibonacci.ndim == count_to_100.ndim == 1
        assert tuple(fibonacci.shape) == (6,) and tuple(count_to_100.shape) == (100,)
        matrix = lib.tensor([[1, 2], [3, 4]])
        assert isinstance(matrix, lib.Tensor) and matrix.ndim == 2
        images = lib.zeros((10, 3, 256, 256))
        assert isinstance(images, lib.Tensor) and images.ndim == 4
        assert images.shape == (10, 3, 256, 256)
        rank3 = lib.rand(2, 3, 4)
        assert rank3.ndim == 3 and float(rank3.min()) >= 0 and float(rank3.max()) < 1
        row_vector, column_vector, scalar = matrix[1], matrix[:, 1], matrix[0, 1]

        a, b = lib.tensor(15), lib.tensor(61)
        c1, c2 = lib.add(a, b), a + b

        def func(a, b):
            c = lib.add(a, b)
            d = lib.subtract(b, 1)
            e = lib.multiply(c, d)
            return e

        a, b = lib.tensor(1.5, requires_grad=True), lib.tensor(2.5, requires_grad=True)
        e_out = func(a, b)
        e_out.backward()                # de/da = d = b - 1, de/db = d + c = 2b + a - 1
        e_num = func(1.5, 2.5)          # the lab passes Python floats
        assert e_out.ndim == 0 and e_out.dtype == lib.float32
        res[lib] = [integer, decimal, fibonacci, count_to_100, matrix, row_vector,
                    column_vector, scalar, c1, c2, e_out, e_num, a.grad, b.grad]
        res[lib, "str"] = f"{decimal}", f"{scalar}", f"{c1}"
        assert images.dtype == decimal.dtype == lib.float32 and integer.dtype == lib.int64
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape) and str(z.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
        _close(z, t, 0)
    assert res[zeroin, "str"] == res[torch, "str"]
    assert res[torch][11].item() == 6.0 and (res[torch][12].item(), res[torch][13].item()) == (1.5, 5.5)


class _Lab1Models:
    """Lab 1's dense layer and the two subclassed models, for ``lib``."""

    def __init__(self, lib):
        nn, _ = _nn(lib)

        class OurDenseLayer(nn.Module):
            def __init__(self, num_inputs, num_outputs):
                super(OurDenseLayer, self).__init__()
                self.W = nn.Parameter(lib.randn(num_inputs, num_outputs))
                self.bias = nn.Parameter(lib.randn(num_outputs))

            def forward(self, x):
                z = lib.matmul(x, self.W) + self.bias
                y = lib.sigmoid(z)
                return y

        class LinearWithSigmoidActivation(nn.Module):
            def __init__(self, num_inputs, num_outputs):
                super(LinearWithSigmoidActivation, self).__init__()
                self.linear = nn.Linear(num_inputs, num_outputs)
                self.activation = nn.Sigmoid()

            def forward(self, inputs):
                linear_output = self.linear(inputs)
                output = self.activation(linear_output)
                return output

        class LinearButSometimesIdentity(nn.Module):
            def __init__(self, num_inputs, num_outputs):
                super(LinearButSometimesIdentity, self).__init__()
                self.linear = nn.Linear(num_inputs, num_outputs)

            def forward(self, inputs, isidentity=False):
                if isidentity:
                    return inputs
                return self.linear(inputs)

        self.dense = OurDenseLayer(2, 3)
        self.sequential = nn.Sequential(nn.Linear(2, 3), nn.Sigmoid())
        self.subclassed = LinearWithSigmoidActivation(2, 3)
        self.identity = LinearButSometimesIdentity(num_inputs=2, num_outputs=3)


def test_lab1_1_dense_layer_sequential_and_subclassed_models(f32):
    models = {lib: _Lab1Models(lib) for lib in LIBS}
    res = {}
    for lib in LIBS:
        m = models[lib]
        if lib is zeroin:
            for name in ("dense", "sequential", "subclassed", "identity"):
                _copy(getattr(models[torch], name), getattr(m, name))
        assert [n for n, _ in m.dense.named_parameters()] == ["W", "bias"]
        x_input = lib.tensor([[1, 2.]])
        outs = [m.dense(x_input), m.sequential(x_input), m.subclassed(x_input),
                m.identity(x_input, isidentity=False), m.identity(x_input, isidentity=True)]
        assert outs[-1] is x_input
        sum(o.sum() for o in outs[:4]).backward()
        grads = [p.grad for name in ("dense", "sequential", "subclassed", "identity")
                 for p in getattr(m, name).parameters()]
        assert all(o.shape == (1, 3) for o in outs[:4]) and len(grads) == 8
        res[lib] = outs + grads
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, **F32)


@pytest.mark.parametrize("which", ["lab1", "lstm", "fc", "cnn", "classifier", "db_vae"])
def test_every_lab_model_from_manual_seed_on_the_torch_stream(which, f32):
    """After the same ``manual_seed`` on PyTorch's stream, each lab's model starts with
    PyTorch's weights bit for bit (``torch.randn`` in OurDenseLayer, Embedding's normal_,
    LSTM's and Linear's uniform_, Conv2d / ConvTranspose2d's kaiming_uniform_): the labs'
    printed numbers come out of zeroin with nothing copied; ``print(model)`` prints what
    PyTorch prints."""
    torch_stream()
    build = {"lab1": lambda lib: list(vars(_Lab1Models(lib)).values()),
             "lstm": lambda lib: [_lstm_model(lib, 30, 8, 16)],
             "fc": lambda lib: [build_fc_model(lib)], "cnn": lambda lib: [_cnn(lib)],
             "classifier": lambda lib: [make_standard_classifier(lib, 1)],
             "db_vae": lambda lib: [_db_vae(lib)[0]]}[which]
    state, printed = {}, {}
    for lib in LIBS:
        lib.manual_seed(0)
        models = build(lib)
        state[lib] = [v for m in models for v in m.state_dict().values()]
        printed[lib] = [str(m) for m in models]         # the labs' print(model)
    assert len(state[zeroin]) == len(state[torch]) > 1
    assert printed[zeroin] == printed[torch]
    for z, t in zip(state[zeroin], state[torch], strict=True):
        np.testing.assert_array_equal(_np(z), _np(t))


def _descent(lib, x0, optimizer=False, steps=500, learning_rate=1e-2, x_f=4):
    """Lab 1's minimisation of (x - x_f) ** 2: x rebuilt from x.item() each step and
    updated by hand, as the lab does it, or kept as a leaf and updated by ``optim.SGD``."""
    x = x0
    history = []
    if optimizer:
        x = x.clone().requires_grad_(True)
        opt = lib.optim.SGD([x], lr=learning_rate)
    for _ in range(steps):
        if optimizer:
            opt.zero_grad()
        else:
            x = lib.tensor([x], requires_grad=True)
        loss = (x - x_f) ** 2
        loss.backward()
        if optimizer:
            opt.step()
        else:
            x = x.item() - learning_rate * x.grad
        history.append(x.item())
    return history, x


def test_lab1_1_autograd_and_gradient_descent_history(f32):
    torch_stream()
    res = {}
    for lib in LIBS:
        x = lib.tensor(3.0, requires_grad=True)
        y = x ** 2
        y.backward()
        dy_dx = x.grad
        assert dy_dx == 6.0
        lib.manual_seed(0)
        x = lib.randn(1)
        x.requires_grad_(True)
        y = x * x
        y.backward()
        lib.manual_seed(1)
        x0 = lib.randn(1)           # "Initializing x=...": the same draw on torch's stream
        by_hand, last = _descent(lib, x0)
        by_sgd, _ = _descent(lib, x0, optimizer=True)
        assert tuple(last.shape) == (1,) and last.dtype == lib.float32
        res[lib] = x.grad, x0, np.array(by_hand), np.array(by_sgd)
    for z, t in zip(res[zeroin], res[torch], strict=True):
        _close(z, t, **F32)
    assert abs(res[zeroin][2][-1] - 4) < 1e-3        # converged to x_f
    np.testing.assert_array_equal(res[zeroin][1], res[torch][1])


# --- Lab 1, part 2: music generation with an LSTM --------------------------------------------------

_SONG = ("X:{n}\nT:Reel {n}\nZ: id:dc-reel-{n}\nM:C\nL:1/8\nK:D Major\n"
         "|:{a}|{b}:|\n")


def _songs(count=6, seed=0):
    """A few short ABC tunes, seeded (the lab loads the Irish folk songs of mitdeeplearning)."""
    rng = np.random.default_rng(seed)
    notes = list("ABCDEFGabcdefg") + ["^F", "_B", "z"]
    bar = lambda: "".join(rng.choice(notes) + rng.choice(["", "2", "/2"]) for _ in range(6))
    return [_SONG.format(n=i, a=bar(), b=bar()) for i in range(count)]


def _vocabulary():
    songs = _songs()
    songs_joined = "\n\n".join(songs)
    vocab = sorted(set(songs_joined))
    char2idx = {u: i for i, u in enumerate(vocab)}
    idx2char = np.array(vocab)

    def vectorize_string(string):
        vectorized_output = np.array([char2idx[char] for char in string])
        return vectorized_output

    return songs_joined, vocab, char2idx, idx2char, vectorize_string(songs_joined)


def _get_batch(lib, vectorized_songs, seq_length, batch_size, rng):
    """The lab's get_batch, with np.random replaced by the seeded ``rng`` (both libraries
    then see the same batch)."""
    n = vectorized_songs.shape[0] - 1
    idx = rng.choice(n - seq_length, batch_size)
    input_batch = [vectorized_songs[i: i + seq_length] for i in idx]
    output_batch = [vectorized_songs[i + 1: i + seq_length + 1] for i in idx]
    x_batch = lib.tensor(input_batch, dtype=lib.long)        # a list of NumPy arrays
    y_batch = lib.tensor(output_batch, dtype=lib.long)
    return x_batch, y_batch


def _lstm_model(lib, vocab_size, embedding_dim, hidden_size):
    nn, _ = _nn(lib)

    class LSTMModel(nn.Module):
        def __init__(self, vocab_size, embedding_dim, hidden_size):
            super(LSTMModel, self).__init__()
            self.hidden_size = hidden_size
            self.embedding = nn.Embedding(vocab_size, embedding_dim)
            self.lstm = nn.LSTM(embedding_dim, hidden_size, batch_first=True)
            self.fc = nn.Linear(hidden_size, vocab_size)

        def init_hidden(self, batch_size, device):
            return (lib.zeros(1, batch_size, self.hidden_size).to(device),
                    lib.zeros(1, batch_size, self.hidden_size).to(device))

        def forward(self, x, state=None, return_state=False):
            x = self.embedding(x)
            if state is None:
                state = self.init_hidden(x.size(0), x.device)
            out, state = self.lstm(x, state)
            out = self.fc(out)
            return out if not return_state else (out, state)

    return LSTMModel(vocab_size, embedding_dim, hidden_size)


def _music_run(lib, tmodel, data, dtype):
    """The lab's shapes check, loss, a few Adam steps and the untrained-prediction sample."""
    songs_joined, vocab, char2idx, idx2char, vectorized_songs = data
    device = lib.device("cuda" if lib.cuda.is_available() else "cpu")
    model = _weights_of(tmodel, _lstm_model(lib, len(vocab), 8, 16))
    model.to(device)
    rng = np.random.RandomState(3)
    x, y = _get_batch(lib, vectorized_songs, seq_length=20, batch_size=4, rng=rng)
    x, y = x.to(device), y.to(device)
    pred = model(x)
    assert tuple(pred.shape) == (4, 20, len(vocab))

    cross_entropy = lib.nn.CrossEntropyLoss()

    def compute_loss(labels, logits):
        batched_labels = labels.view(-1)
        batched_logits = logits.view(-1, logits.size(-1))
        loss = cross_entropy(batched_logits, batched_labels)
        return loss

    example_batch_loss = compute_loss(y, pred)
    optimizer = lib.optim.Adam(model.parameters(), lr=5e-3)

    def train_step(x, y):
        model.train()
        optimizer.zero_grad()
        y_hat = model(x)
        loss = compute_loss(y, y_hat)
        loss.backward()
        optimizer.step()
        return loss

    history = []
    for _ in range(4):
        x, y = _get_batch(lib, vectorized_songs, seq_length=20, batch_size=4, rng=rng)
        history.append(train_step(x.to(device), y.to(device)).item())
    grads = [p.grad for p in model.parameters()]
    return model, [pred, example_batch_loss, lib.tensor(history)] + grads + list(model.parameters())


def _generate_text(lib, model, char2idx, idx2char, start_string, generation_length=30):
    """The lab's generate_text (without tqdm): sample one character at a time, carrying the
    LSTM state; returns the text and the last step's probabilities."""
    device = lib.device("cpu")
    input_idx = [char2idx[s] for s in start_string]
    input_idx = lib.tensor([input_idx], dtype=lib.long).to(device)
    state = model.init_hidden(input_idx.size(0), device)
    text_generated = []
    for i in range(generation_length):
        predictions, state = model(input_idx, state, return_state=True)
        predictions = predictions.squeeze(0)
        probs = lib.softmax(predictions, dim=-1)
        input_idx = lib.multinomial(probs, num_samples=1)
        text_generated.append(idx2char[input_idx].item())
    return start_string + "".join(text_generated), probs


@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy")
def test_lab1_2_vocabulary_batches_and_the_printed_steps(tmp_path, f32):
    """The vectorised songs, a batch of the lab's get_batch, the cell that prints each
    step's input and expected output, and the checkpoint saved and loaded back."""
    songs_joined, vocab, char2idx, idx2char, vectorized_songs = _vocabulary()
    assert "".join(idx2char[vectorized_songs[:10]]) == songs_joined[:10]
    printed, batches = {}, {}
    for lib in LIBS:
        x_batch, y_batch = _get_batch(lib, vectorized_songs, 10, 2, np.random.RandomState(0))
        assert isinstance(x_batch, lib.Tensor) and x_batch.shape == (2, 10)
        assert x_batch.dtype == y_batch.dtype == lib.int64
        x, y = _get_batch(lib, vectorized_songs, 5, 1, np.random.RandomState(1))
        lines = ["Input: " + repr("".join(idx2char[x[0]]))]
        for i, (input_idx, target_idx) in enumerate(zip(x[0], y[0])):
            lines.append("Step {:3d}".format(i))
            lines.append("  input: {} ({:s})".format(input_idx, repr(idx2char[input_idx.item()])))
            lines.append("  expected output: {} ({:s})".format(
                target_idx, repr(idx2char[target_idx.item()])))
        printed[lib], batches[lib] = lines, (x_batch, y_batch)
    assert printed[zeroin] == printed[torch]
    for z, t in zip(batches[zeroin], batches[torch]):
        np.testing.assert_array_equal(_np(z), _np(t))
    torch.manual_seed(0)
    model = _copy(_lstm_model(torch, len(vocab), 8, 16), _lstm_model(zeroin, len(vocab), 8, 16))
    checkpoint_prefix = str(tmp_path / "my_ckpt.pth")
    zeroin.save(model.state_dict(), checkpoint_prefix)
    again = _lstm_model(zeroin, len(vocab), 8, 16)
    again.load_state_dict(zeroin.load(checkpoint_prefix))
    x = batches[zeroin][0]
    np.testing.assert_array_equal(_np(again(x)), _np(model(x)))


@pytest.mark.filterwarnings("ignore:Creating a tensor from a list of numpy")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lab1_2_lstm_music_model_loss_and_adam_steps(dtype, f32):
    for lib in LIBS:                  # the lab's dtype, or float64 everywhere
        lib.set_default_dtype(getattr(lib, dtype))
    data = _vocabulary()
    songs_joined, vocab, char2idx, idx2char, vectorized_songs = data
    torch.manual_seed(0)
    tmodel = _lstm_model(torch, len(vocab), 8, 16)
    res = {lib: _music_run(lib, tmodel, data, dtype) for lib in LIBS}
    tol = F64 if dtype == "float64" else NET32
    for z, t in zip(res[zeroin][1], res[torch][1], strict=True):
        assert tuple(z.shape) == tuple(t.shape) and str(z.dtype).endswith(dtype)
        _close(z, t, **tol)
    # the untrained model's sample from pred[0]: one index per position, in the vocabulary
    for lib in LIBS:
        pred = res[lib][1][0]
        sampled_indices = lib.multinomial(lib.softmax(pred[0], dim=-1), num_samples=1)
        sampled_indices = sampled_indices.squeeze(-1).cpu().numpy()
        assert sampled_indices.shape == (20,) and sampled_indices.max() < len(vocab)
    if dtype == "float64":                    # generation: the same text on torch's stream
        torch_stream()
        text = {}
        for lib in LIBS:
            lib.manual_seed(7)
            with lib.no_grad():
                text[lib] = _generate_text(lib, res[lib][0], char2idx, idx2char, "X")
        assert text[zeroin][0] == text[torch][0] and len(text[torch][0]) == 31
        _close(text[zeroin][1], text[torch][1], **F64)


def test_lab1_2_generation_on_the_torch_stream_float32(f32):
    """float32 generation from the same weights and seed: the same characters as torch."""
    torch_stream()
    data = _vocabulary()
    _, vocab, char2idx, idx2char, _ = data
    torch.manual_seed(0)
    tmodel = _lstm_model(torch, len(vocab), 8, 16)
    zmodel = _copy(tmodel, _lstm_model(zeroin, len(vocab), 8, 16))
    text = {}
    for lib, model in ((torch, tmodel), (zeroin, zmodel)):
        lib.manual_seed(11)
        with lib.no_grad():
            text[lib] = _generate_text(lib, model, char2idx, idx2char, "X", 40)
    assert text[zeroin][0] == text[torch][0]
    _close(text[zeroin][1], text[torch][1], **F32)
    # a sample of the next character's distribution: its frequencies match the softmax
    probs = zeroin.softmax(zeroin.tensor([[2.0, 0.5, -1.0, 1.0]]), dim=-1)
    draws = zeroin.multinomial(probs.expand(4000, 4), num_samples=1).squeeze(-1).numpy()
    np.testing.assert_allclose(np.bincount(draws, minlength=4) / 4000, _np(probs)[0], atol=0.03)


# --- Lab 2, part 1: MNIST ------------------------------------------------------------------------

def _mnist(lib, n=48, seed=0):
    """Seeded 28 x 28 "digits" in [0, 1] (ToTensor's range) with labels 0-9 that a small
    network can partly learn (each class brightens its own band of rows)."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    images = rng.uniform(0, 0.3, (n, 1, 28, 28)).astype(np.float32)
    for i, c in enumerate(labels):
        images[i, 0, 2 * c + 3: 2 * c + 6, 4:24] += 0.7
    ds = lib.utils.data.TensorDataset(lib.tensor(images, dtype=lib.get_default_dtype()),
                                      lib.tensor(labels))
    return ds


def build_fc_model(lib):
    nn, _ = _nn(lib)
    fc_model = nn.Sequential(
        nn.Flatten(),
        nn.Linear(28 * 28, 128),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    return fc_model


def _cnn(lib):
    nn, _ = _nn(lib)

    class CNN(nn.Module):
        def __init__(self):
            super(CNN, self).__init__()
            self.conv1 = nn.Conv2d(1, 24, kernel_size=3)
            self.pool1 = nn.MaxPool2d(kernel_size=2)
            self.conv2 = nn.Conv2d(24, 36, kernel_size=3)
            self.pool2 = nn.MaxPool2d(kernel_size=2)
            self.flatten = nn.Flatten()
            self.fc1 = nn.Linear(36 * 5 * 5, 128)
            self.relu = nn.ReLU()
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = self.pool1(self.relu(self.conv1(x)))
            x = self.pool2(self.relu(self.conv2(x)))
            x = self.flatten(x)
            x = self.relu(self.fc1(x))
            return self.fc2(x)

    return CNN()


def _train(lib, model, trainset_loader, loss_function, optimizer, epochs=1):
    """The lab's train(): per-step losses, and the epoch's mean loss and accuracy."""
    model.train()
    steps = []
    for epoch in range(epochs):
        total_loss, correct_pred, total_pred = 0, 0, 0
        for images, labels in trainset_loader:
            outputs = model(images)
            optimizer.zero_grad()
            loss = loss_function(outputs, labels)
            loss.backward()
            optimizer.step()
            steps.append(loss.item())
            total_loss += loss.item() * images.size(0)
            predicted = lib.argmax(outputs, dim=1)
            correct_pred += (predicted == labels).sum().item()
            total_pred += labels.size(0)
    return steps, total_loss / total_pred, correct_pred / total_pred


def _evaluate(lib, model, testset_loader, loss_function):
    model.eval()
    test_loss, correct_pred, total_pred = 0, 0, 0
    with lib.no_grad():
        for images, labels in testset_loader:
            outputs = model(images)
            loss = loss_function(outputs, labels)
            test_loss += loss.item() * images.size(0)
            predicted = lib.argmax(outputs, dim=1)
            correct_pred += (predicted == labels).sum().item()
            total_pred += labels.size(0)
    return test_loss / total_pred, correct_pred / total_pred


def _all_predictions(lib, cnn_model, testset_loader):
    """The lab's cell gathering every test image's probabilities, labels and images."""
    all_predictions, all_labels, all_images = [], [], []
    cnn_model.eval()
    with lib.no_grad():
        for images, labels in testset_loader:
            outputs = cnn_model(images)
            probabilities = lib.nn.functional.softmax(outputs, dim=1)
            all_predictions.append(probabilities)
            all_labels.append(labels)
            all_images.append(images)
    all_predictions = lib.cat(all_predictions)
    predictions = all_predictions.cpu().numpy()
    test_labels, test_images = lib.cat(all_labels).cpu().numpy(), lib.cat(all_images).cpu().numpy()
    return predictions, np.argmax(predictions, axis=1), test_labels, test_images


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("which", ["fc", "cnn"])
def test_lab2_1_mnist_training_evaluation_and_one_image(which, dtype, f32):
    for lib in LIBS:
        lib.set_default_dtype(getattr(lib, dtype))
    tol = F64 if dtype == "float64" else NET32
    torch.manual_seed(0)
    tmodel = build_fc_model(torch) if which == "fc" else _cnn(torch)
    res = {}
    for lib in LIBS:
        model = _weights_of(tmodel, build_fc_model(lib) if which == "fc" else _cnn(lib))
        train_dataset, test_dataset = _mnist(lib), _mnist(lib, n=20, seed=1)
        image, label = train_dataset[0]
        assert tuple(image.shape) == (1, 28, 28) and label.ndim == 0
        trainset_loader = lib.utils.data.DataLoader(train_dataset, batch_size=16, shuffle=False)
        testset_loader = lib.utils.data.DataLoader(test_dataset, batch_size=16, shuffle=False)
        loss_function = lib.nn.CrossEntropyLoss()
        if which == "fc":
            optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        else:
            optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
        steps, train_loss, train_acc = _train(lib, model, trainset_loader, loss_function,
                                               optimizer, epochs=2)
        test_loss, test_acc = _evaluate(lib, model, testset_loader, loss_function)
        test_image, test_label = test_dataset[0]
        if which == "cnn":      # without unsqueeze(0): both fail at fc1 (36 x 25 features)
            hint = r"36x25" if lib is torch else r"\(36, 25\).*x\.reshape\(1, 900\)"
            with pytest.raises(RuntimeError, match=hint):
                model(test_image)
        test_image = test_image.to("cpu").unsqueeze(0)
        assert tuple(test_image.shape) == (1, 1, 28, 28)
        predictions_test_image = model(test_image)
        probabilities = lib.nn.functional.softmax(predictions_test_image, dim=1)
        prediction = lib.argmax(predictions_test_image)
        res[lib] = dict(steps=steps, scalars=[train_loss, test_loss],
                        all=_all_predictions(lib, model, testset_loader),
                        counts=[train_acc, test_acc, prediction.item()],
                        arrays=[predictions_test_image, probabilities]
                        + [p.detach() for p in model.parameters()])
        assert prediction.ndim == 0 and predictions_test_image.requires_grad
        assert str(predictions_test_image.dtype).endswith(dtype)
    z, t = res[zeroin], res[torch]
    _close(z["steps"], t["steps"], **tol)
    _close(z["scalars"], t["scalars"], **tol)
    assert z["counts"] == t["counts"]
    assert t["steps"][-1] < t["steps"][0]
    for a, b in zip(z["arrays"], t["arrays"], strict=True):
        _close(a, b, **tol)
    z, t = z["all"], t["all"]
    _close(z[0], t[0], **tol)
    for a, b in zip(z[1:], t[1:], strict=True):
        np.testing.assert_array_equal(a, b)


def test_lab2_1_mnist_from_idx_files_with_to_tensor(tmp_path, f32):
    """The lab's ``datasets.MNIST(root="./data", train=True, download=True,
    transform=transforms.ToTensor())`` on IDX files already there (zeroin.vision reads
    torchvision's layout; nothing is downloaded), against torch on the same pixels as
    torchvision's ToTensor makes them (uint8 / 255, float32) in a TensorDataset."""
    from zeroin.data.mnist import write_idx
    from zeroin.vision import datasets, transforms
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(4)
    labels = rng.integers(0, 10, 32).astype(np.uint8)
    images = rng.integers(0, 60, (32, 28, 28)).astype(np.uint8)
    for i, c in enumerate(labels):
        images[i, 2 * c + 3:2 * c + 6, 4:24] += 180
    write_idx(raw / "train-images-idx3-ubyte", images)
    write_idx(raw / "train-labels-idx1-ubyte", labels)
    train_dataset = datasets.MNIST(root=tmp_path, train=True, download=True,
                                   transform=transforms.ToTensor())
    tset = torch.utils.data.TensorDataset(torch.from_numpy(images).float().div(255).unsqueeze(1),
                                          torch.from_numpy(labels).long())
    image, label = train_dataset[0]
    assert tuple(image.shape) == (1, 28, 28) and image.dtype == zeroin.float32
    assert type(label) is int and label == labels[0]            # torchvision's: an int
    np.testing.assert_array_equal(_np(image), _np(tset[0][0]))
    torch.manual_seed(0)
    tmodel = build_fc_model(torch)
    res = {}
    for lib, dataset in ((torch, tset), (zeroin, train_dataset)):
        model = _weights_of(tmodel, build_fc_model(lib))
        loader = lib.utils.data.DataLoader(dataset, batch_size=8, shuffle=False)
        images_b, labels_b = next(iter(loader))
        assert tuple(images_b.shape) == (8, 1, 28, 28) and labels_b.dtype == lib.int64
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        res[lib] = _train(lib, model, loader, lib.nn.CrossEntropyLoss(), optimizer, epochs=2)
    _close(res[zeroin][0], res[torch][0], **NET32)
    assert res[zeroin][2] == res[torch][2]


def test_lab2_1_shuffled_loader_on_the_torch_stream(f32):
    """``DataLoader(..., shuffle=True)`` after the same ``manual_seed``: the same batches as
    PyTorch's on its stream, hence the same training losses (weights from the stream too)."""
    torch_stream()
    res = {}
    for lib in LIBS:
        lib.manual_seed(42)
        model = build_fc_model(lib)
        loader = lib.utils.data.DataLoader(_mnist(lib), batch_size=16, shuffle=True)
        optimizer = lib.optim.SGD(model.parameters(), lr=0.1)
        res[lib] = _train(lib, model, loader, lib.nn.CrossEntropyLoss(), optimizer, epochs=2)
    _close(res[zeroin][0], res[torch][0], **NET32)
    assert res[zeroin][2] == res[torch][2]


# --- Lab 2, part 2: debiasing facial detection ---------------------------------------------------

def test_lab2_2_setup_imports_torch_backends_cudnn(f32):
    """The lab's first cell: ``import torch.backends.cudnn as cudnn`` and the GPU check.
    zeroin's ``backends`` was one module, so ``import zeroin.backends.cudnn`` raised
    ModuleNotFoundError; now ``mps``, ``cudnn`` and ``cuda`` are submodules, as PyTorch's."""
    import subprocess
    import sys
    code = ("import zeroin.backends.cudnn as cudnn\n"
            "import zeroin as torch\n"
            "device = torch.device('cuda') if torch.cuda.is_available() else torch.device('cpu')\n"
            "cudnn.benchmark = True\n"
            "assert torch.backends.cudnn is cudnn and torch.backends.cudnn.benchmark\n"
            "import zeroin.backends.cuda, zeroin.backends.mps\n"
            "print(device, cudnn.is_available(), torch.backends.mps.is_available())\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["cpu", "False", "False"]
    import torch.backends.cudnn as tcudnn
    import zeroin.backends.cudnn as cudnn  # noqa: PLR0402  (the lab's form)
    assert cudnn is zeroin.backends.cudnn and cudnn.benchmark == tcudnn.benchmark
    assert (cudnn.enabled, cudnn.deterministic) == (tcudnn.enabled, tcudnn.deterministic)


def _faces(n=12, seed=0, size=64):
    """Seeded NCHW "images" in [0, 1] with labels of shape (n, 1), as the lab's
    TrainingDatasetLoader(channels_last=False).get_batch gives them."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (n, 3, size, size)).astype(np.float32)
    y = (rng.uniform(size=(n, 1)) < 0.5).astype(np.float32)
    x[y[:, 0] == 1, :, 16:48, 16:48] *= 0.5
    return x, y


def make_standard_classifier(lib, n_outputs, n_filters=12, in_channels=3, H=64, W=64):
    nn, _ = _nn(lib)

    class ConvBlock(nn.Module):
        def __init__(self, in_channels, out_channels, kernel_size, stride, padding=0):
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
            self.relu = nn.ReLU(inplace=True)
            self.bn = nn.BatchNorm2d(out_channels)

        def forward(self, x):
            x = self.conv(x)
            x = self.relu(x)
            x = self.bn(x)
            return x

    model = nn.Sequential(
        ConvBlock(in_channels, n_filters, kernel_size=5, stride=2, padding=2),
        ConvBlock(n_filters, 2 * n_filters, kernel_size=5, stride=2, padding=2),
        ConvBlock(2 * n_filters, 4 * n_filters, kernel_size=3, stride=2, padding=1),
        ConvBlock(4 * n_filters, 6 * n_filters, kernel_size=3, stride=2, padding=1),
        nn.Flatten(),
        nn.Linear(H // 16 * W // 16 * 6 * n_filters, 512),
        nn.ReLU(inplace=True),
        nn.Linear(512, n_outputs),
    )
    return model.to(lib.device("cpu"))


def test_lab2_2_standard_cnn_training_and_evaluation(f32):
    torch.manual_seed(0)
    tmodel = make_standard_classifier(torch, n_outputs=1)
    res = {}
    for lib in LIBS:
        standard_classifier = _weights_of(tmodel, make_standard_classifier(lib, n_outputs=1))
        loss_fn = lib.nn.BCEWithLogitsLoss()
        optimizer = lib.optim.Adam(standard_classifier.parameters(), lr=5e-4)
        standard_classifier.train()

        def standard_train_step(x, y):
            x = lib.from_numpy(x).float().to("cpu")
            y = lib.from_numpy(y).float().to("cpu")
            optimizer.zero_grad()
            logits = standard_classifier(x)
            loss = loss_fn(logits, y)
            loss.backward()
            optimizer.step()
            return loss

        losses = []
        for step in range(3):
            x, y = _faces(8, seed=step)
            loss = standard_train_step(x, y)
            losses.append(loss.detach().cpu().numpy())
        standard_classifier.eval()
        batch_x, batch_y = (lib.from_numpy(a).float() for a in _faces(10, seed=9))
        with lib.inference_mode():
            y_pred_logits = standard_classifier(batch_x)
            y_pred_standard = lib.round(lib.sigmoid(y_pred_logits))
            acc_standard = lib.mean((batch_y == y_pred_standard).float())
            probs = lib.squeeze(lib.sigmoid(y_pred_logits), dim=-1)
        assert not y_pred_logits.requires_grad and tuple(probs.shape) == (10,)
        bn = standard_classifier[0].bn
        res[lib] = [np.array(losses), y_pred_logits, y_pred_standard, acc_standard, probs,
                    bn.running_mean, bn.running_var] + list(standard_classifier.parameters())
    for z, t in zip(res[zeroin], res[torch], strict=True):
        assert tuple(z.shape) == tuple(t.shape)
        _close(z, t, **NET32)


def _db_vae(lib, latent_dim=100):
    """The lab's sampling, losses, face decoder and DB_VAE for ``lib``."""
    nn, F = _nn(lib)

    def vae_loss_function(x, x_recon, mu, logsigma, kl_weight=0.0005):
        latent_loss = 0.5 * lib.sum(lib.exp(logsigma) + mu ** 2 - 1 - logsigma, dim=1)
        reconstruction_loss = lib.mean(lib.abs(x - x_recon), dim=(1, 2, 3))
        vae_loss = kl_weight * latent_loss + reconstruction_loss
        return vae_loss

    def sampling(z_mean, z_logsigma):
        eps = lib.randn_like(z_mean)
        z = z_mean + lib.exp(0.5 * z_logsigma) * eps
        return z

    def debiasing_loss_function(x, x_pred, y, y_logit, mu, logsigma):
        vae_loss = vae_loss_function(x, x_pred, mu, logsigma)
        classification_loss = F.binary_cross_entropy_with_logits(y_logit, y, reduction="none")
        y = y.float()
        face_indicator = (y == 1.0).float()
        total_loss = lib.mean(classification_loss * face_indicator + vae_loss)
        return total_loss, classification_loss

    def make_face_decoder_network(latent_dim=100, n_filters=12):
        class FaceDecoder(nn.Module):
            def __init__(self, latent_dim, n_filters):
                super(FaceDecoder, self).__init__()
                self.latent_dim = latent_dim
                self.n_filters = n_filters
                self.linear = nn.Sequential(nn.Linear(latent_dim, 4 * 4 * 6 * n_filters),
                                            nn.ReLU())
                up = lambda i, o, k, p: nn.ConvTranspose2d(
                    in_channels=i, out_channels=o, kernel_size=k, stride=2, padding=p,
                    output_padding=1)
                self.deconv = nn.Sequential(
                    up(6 * n_filters, 4 * n_filters, 3, 1), nn.ReLU(),
                    up(4 * n_filters, 2 * n_filters, 3, 1), nn.ReLU(),
                    up(2 * n_filters, n_filters, 5, 2), nn.ReLU(),
                    up(n_filters, 3, 5, 2))

            def forward(self, z):
                x = self.linear(z)
                x = x.view(-1, 6 * self.n_filters, 4, 4)
                x = self.deconv(x)
                return x

        return FaceDecoder(latent_dim, n_filters)

    class DB_VAE(nn.Module):
        def __init__(self, latent_dim=100):
            super(DB_VAE, self).__init__()
            self.latent_dim = latent_dim
            self.encoder = make_standard_classifier(lib, n_outputs=2 * latent_dim + 1)
            self.decoder = make_face_decoder_network()

        def encode(self, x):
            encoder_output = self.encoder(x)
            y_logit = encoder_output[:, 0].unsqueeze(-1)
            z_mean = encoder_output[:, 1: self.latent_dim + 1]
            z_logsigma = encoder_output[:, self.latent_dim + 1:]
            return y_logit, z_mean, z_logsigma

        def reparameterize(self, z_mean, z_logsigma):
            return sampling(z_mean, z_logsigma)

        def decode(self, z):
            return self.decoder(z)

        def forward(self, x):
            y_logit, z_mean, z_logsigma = self.encode(x)
            z = self.reparameterize(z_mean, z_logsigma)
            recon = self.decode(z)
            return y_logit, z_mean, z_logsigma, recon

        def predict(self, x):
            y_logit, z_mean, z_logsigma = self.encode(x)
            return y_logit

    return DB_VAE(latent_dim), debiasing_loss_function, vae_loss_function


def _get_latent_mu(lib, images, dbvae, batch_size=8):
    """The lab's get_latent_mu: NHWC faces in, the encoder's means out (NumPy)."""
    dbvae.eval()
    all_z_mean = []
    images_t = lib.from_numpy(images).float()
    with lib.inference_mode():
        for start in range(0, len(images_t), batch_size):
            batch = images_t[start:start + batch_size]
            batch = batch.to("cpu").permute(0, 3, 1, 2)
            _, z_mean, _, _ = dbvae(batch)
            all_z_mean.append(z_mean.cpu())
    z_mean_full = lib.cat(all_z_mean, dim=0)
    return z_mean_full.numpy()


def get_training_sample_probabilities(mu, latent_dim, bins=10, smoothing_fac=0.001):
    """The lab's resampling probabilities from the latent means ``mu`` (NumPy only)."""
    training_sample_p = np.zeros(mu.shape[0], dtype=np.float64)
    for i in range(latent_dim):
        latent_distribution = mu[:, i]
        hist_density, bin_edges = np.histogram(latent_distribution, density=True, bins=bins)
        bin_edges[0] = -float("inf")
        bin_edges[-1] = float("inf")
        bin_idx = np.digitize(latent_distribution, bin_edges)
        hist_smoothed_density = hist_density + smoothing_fac
        hist_smoothed_density = hist_smoothed_density / np.sum(hist_smoothed_density)
        p = 1.0 / (hist_smoothed_density[bin_idx - 1])
        p = p / np.sum(p)
        training_sample_p = np.maximum(training_sample_p, p)
    training_sample_p /= np.sum(training_sample_p)
    return training_sample_p


def _db_vae_run(lib, tvae, all_faces, test_faces):
    """Lab 2's DB-VAE section: the resampling probabilities, two training steps on batches
    drawn with them, and the test faces' predictions."""
    dbvae, debiasing_loss_function, vae_loss_function = _db_vae(lib)
    _weights_of(tvae, dbvae)
    optimizer = lib.optim.Adam(dbvae.parameters(), lr=5e-4)

    def debiasing_train_step(x, y):
        optimizer.zero_grad()
        y_logit, z_mean, z_logsigma, x_recon = dbvae(x)
        loss, class_loss = debiasing_loss_function(x, x_recon, y, y_logit, z_mean, z_logsigma)
        loss.backward()
        optimizer.step()
        return loss, (y_logit, z_mean, z_logsigma, x_recon, class_loss,
                      vae_loss_function(x, x_recon, z_mean, z_logsigma))

    mu = _get_latent_mu(lib, all_faces, dbvae)
    p_faces = get_training_sample_probabilities(mu, latent_dim=100)
    rng = np.random.RandomState(0)                # the loader's np.random.choice(..., p=p_pos)
    lib.manual_seed(3)                            # the reparameterisation's eps
    losses, first = [], None
    # as in the lab, no dbvae.train() after get_latent_mu's dbvae.eval(): batch norm keeps
    # its running statistics while the DB-VAE trains (the same in both libraries)
    for step in range(2):
        choice = rng.choice(len(all_faces), size=6, replace=False, p=p_faces)
        x = lib.from_numpy(all_faces[choice].transpose(0, 3, 1, 2).copy()).float().to("cpu")
        y = lib.from_numpy(_faces(6, seed=step)[1]).float().to("cpu")
        loss, outs = debiasing_train_step(x, y)
        losses.append(loss.detach().cpu().numpy())
        if first is None:
            assert tuple(outs[3].shape) == tuple(x.shape) == (6, 3, 64, 64)
            assert tuple(outs[4].shape) == (6, 1) and tuple(outs[0].shape) == (6, 1)
            first = [choice] + list(outs) + [p.grad.clone() for p in dbvae.parameters()]
    z_mean = dbvae.encode(lib.from_numpy(test_faces))[1]
    dbvae_logits_list = []
    for face in test_faces.reshape(2, -1, *test_faces.shape[1:]):
        face = lib.from_numpy(np.asarray(face, dtype=np.float32)).to("cpu")
        with lib.inference_mode():
            logit = dbvae.predict(face)
        dbvae_logits_list.append(logit.detach().cpu().numpy())
    dbvae_logits_array = np.concatenate(dbvae_logits_list, axis=0)
    dbvae_probs_tensor = lib.sigmoid(lib.from_numpy(dbvae_logits_array))
    dbvae_probs_array = dbvae_probs_tensor.squeeze(dim=-1).numpy()
    return dict(mu=mu, p=p_faces, losses=np.array(losses), first=first,
                test=[z_mean.detach().cpu().numpy(), dbvae_probs_array],
                params=list(dbvae.parameters()))


def test_lab2_2_db_vae_loss_training_and_resampling(f32):
    torch.manual_seed(0)
    tvae = _db_vae(torch)[0]
    all_faces = _faces(20, seed=5)[0].transpose(0, 2, 3, 1).copy()      # NHWC, as the lab's
    test_faces = _faces(4, seed=8)[0]
    torch_stream()                  # randn_like's eps: PyTorch's draws in both
    res = {lib: _db_vae_run(lib, tvae, all_faces, test_faces) for lib in LIBS}
    z, t = res[zeroin], res[torch]
    for key in ("mu", "p", "losses", "first", "test"):
        for a, b in zip(z[key], t[key], strict=True):
            assert tuple(a.shape) == tuple(b.shape)
            _close(a, b, **NET32)
    np.testing.assert_array_equal(z["first"][0], t["first"][0])        # the same batch
    # the lab's (6, 1) + (6,) broadcast to (6, 6): its mean is still the per-image one
    class_loss, vae_loss, y = _np(z["first"][5]), _np(z["first"][6]), _faces(6, seed=0)[1]
    per_image = class_loss[:, 0] * (y[:, 0] == 1) + vae_loss
    np.testing.assert_allclose(z["losses"][0], per_image.mean(), rtol=1e-6)
    assert len(set(np.round(t["p"], 12))) > 1                          # not uniform
    # after two Adam steps: an entry whose gradient is float noise around 0 moves by up to
    # lr = 5e-4 a step either way (Adam divides by its size), so 1e-4 absolute
    for a, b in zip(z["params"], t["params"], strict=True):
        _close(a, b, rtol=2e-4, atol=1e-4)
