"""Audit against the official PyTorch examples (github.com/pytorch/examples), the scripts a
practitioner copies first: mnist, vae, dcgan, word_language_model (RNN and Transformer),
time_sequence_prediction, reinforcement_learning (REINFORCE, actor-critic), siamese_network,
super_resolution, mnist_rnn, mnist_forward_forward, gcn, vision_transformer and regression.
Each example's core (its model, a few training steps, its sampling or generation) is written
here once, as a function of the library, and run with ``torch`` and with ``zeroin`` on the
same small synthetic data and the same weights (copied from torch). Where an example draws
random numbers (dropout, ``randn_like``, ``Categorical.sample``, ``multinomial``) both run on
PyTorch's stream (``zeroin.random.use_torch_stream``), so the draws are the same too.
Float64 results agree to 1e-10 or so, float32 ones to float resolution. No downloads: the
datasets are made here. See docs/pytorch_examples.md."""
import copy
import math
import random
from collections import namedtuple

import numpy as np
import pytest

import zeroin
from _audit import close, copy_weights, np_of, torch_defaults_back, torch_stream  # noqa: F401

torch = pytest.importorskip("torch")
F32 = dict(rtol=3e-5, atol=3e-6)


def _both(fn, *args, dtype="float64", stream=True, seed=0, **kw):
    """``fn(lib, *args)`` for torch then zeroin, each seeded the same, in ``dtype``."""
    out = []
    for lib in (torch, zeroin):
        if stream:
            torch_stream()
        lib.set_default_dtype(getattr(lib, dtype))
        lib.manual_seed(seed)
        out.append(fn(lib, *args, **kw))
    torch.set_default_dtype(torch.float32)
    return out


def _same_params(zmodel, tmodel, **tol):
    tol = tol or dict(rtol=1e-10, atol=1e-10)
    zs, ts = zmodel.state_dict(), tmodel.state_dict()
    assert list(zs) == list(ts)
    for k in ts:
        close(zs[k], ts[k], **tol)


def _mnist_like(n, seed=0, dtype=np.float64):
    """(n, 1, 28, 28) pixels normalised as the MNIST examples do, and labels 0-9."""
    rng = np.random.default_rng(seed)
    x = (rng.integers(0, 256, (n, 1, 28, 28)) / 255 - 0.1307) / 0.3081
    return x.astype(dtype), rng.integers(0, 10, n)


# --- mnist: the CNN, Adadelta, StepLR, train() and test() ------------------------------------

def _mnist_net(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 32, 3, 1), nn.Conv2d(32, 64, 3, 1)
            self.dropout1, self.dropout2 = nn.Dropout(0.25), nn.Dropout(0.5)
            self.fc1, self.fc2 = nn.Linear(9216, 128), nn.Linear(128, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv2(F.relu(self.conv1(x)))), 2)
            x = self.fc1(lib.flatten(self.dropout1(x), 1))
            x = self.fc2(self.dropout2(F.relu(x)))
            return F.log_softmax(x, dim=1)
    return Net


def _mnist_run(lib, tmodel, data):
    F = lib.nn.functional
    model = _mnist_net(lib)()
    model.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tmodel.state_dict().items()})
    loader = lib.utils.data.DataLoader(
        lib.utils.data.TensorDataset(lib.tensor(data[0]), lib.tensor(data[1])), batch_size=4)
    optimizer = lib.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = lib.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    log = []
    for epoch in range(1, 3):
        model.train()
        for data_, target in loader:
            optimizer.zero_grad()
            loss = F.nll_loss(model(data_), target)
            loss.backward()
            optimizer.step()
            log.append(loss.item())
        model.eval()
        test_loss, correct = 0, 0
        with lib.no_grad():
            for data_, target in loader:
                output = model(data_)
                test_loss += F.nll_loss(output, target, reduction="sum").item()
                pred = output.argmax(dim=1, keepdim=True)
                correct += pred.eq(target.view_as(pred)).sum().item()
        log += [test_loss / len(loader.dataset), correct]
        scheduler.step()
    return log, optimizer.param_groups[0]["lr"], model


def test_mnist_cnn_adadelta_steplr_with_dropout():
    data = _mnist_like(8)
    tmodel = _mnist_net(torch)().double()
    (tl, tlr, tm), (zl, zlr, zm) = _both(_mnist_run, tmodel, data)
    assert [zl[3], zl[7]] == [tl[3], tl[7]] and isinstance(zl[7], int)   # correct: an int
    close(zl, tl)
    assert zlr == pytest.approx(tlr) == 0.49
    _same_params(zm, tm, rtol=1e-9, atol=1e-11)


# --- vae: reparameterisation, BCE + KLD, sampling and the reconstruction grid ----------------

def _vae(lib):
    nn, F = lib.nn, lib.nn.functional

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc21, self.fc22 = nn.Linear(784, 40), nn.Linear(40, 6), nn.Linear(40, 6)
            self.fc3, self.fc4 = nn.Linear(6, 40), nn.Linear(40, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar):
            std = lib.exp(0.5 * logvar)
            return mu + lib.randn_like(std) * std

        def decode(self, z):
            return lib.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x):
            mu, logvar = self.encode(x.view(-1, 784))
            return self.decode(self.reparameterize(mu, logvar)), mu, logvar
    return VAE


def _vae_run(lib, tmodel, x, tmp):
    F = lib.nn.functional
    model = copy_weights(tmodel, _vae(lib)()) if lib is zeroin else copy.deepcopy(tmodel)
    lib.manual_seed(1)                      # after zeroin's model drew its initial weights

    def loss_function(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
        kld = -0.5 * lib.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

    optimizer = lib.optim.Adam(model.parameters(), lr=1e-3)
    data = lib.tensor(x)
    losses = []
    model.train()
    for _ in range(2):
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(data)
        loss = loss_function(recon_batch, data, mu, logvar)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() / len(data))
    model.eval()
    with lib.no_grad():
        recon_batch, mu, logvar = model(data)
        test_loss = loss_function(recon_batch, data, mu, logvar).item()
        n = min(data.size(0), 8)
        comparison = lib.cat([data[:n], recon_batch.view(len(data), 1, 28, 28)[:n]])
        sample = model.decode(lib.randn(64, 6)).cpu()
    if lib is zeroin:
        from zeroin.vision.utils import save_image
        save_image(comparison.cpu(), str(tmp / "reconstruction_1.png"), nrow=n)
        save_image(sample.view(64, 1, 28, 28), str(tmp / "sample_1.png"))
    return losses + [test_loss], comparison, sample, model


def test_vae_reparameterize_bce_kld_sample_and_save_image(tmp_path):
    from PIL import Image
    x = np.random.default_rng(1).random((10, 1, 28, 28))
    tmodel = _vae(torch)().double()
    t, z = _both(_vae_run, tmodel, x, tmp_path)
    close(z[0], t[0])
    close(z[1], t[1])                       # the grid's tensors: data and reconstructions
    close(z[2], t[2])                       # decode(randn(64, 20)): the same noise
    _same_params(z[3], t[3])
    # torchvision's grid: 8 per row, 2 pixels of padding
    assert Image.open(tmp_path / "reconstruction_1.png").size == (8 * 30 + 2, 2 * 30 + 2)
    assert Image.open(tmp_path / "sample_1.png").size == (242, 242)


# --- dcgan: ConvTranspose2d generator, BCELoss, two Adams, detach, fill_ ---------------------

def _dcgan(lib, nz=8, ngf=4, ndf=4, nc=3):
    nn = lib.nn

    def weights_init(m):
        classname = m.__class__.__name__
        if classname.find("Conv") != -1:
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif classname.find("BatchNorm") != -1:
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    def up(i, o, s, p, last=False):
        conv = nn.ConvTranspose2d(i, o, 4, s, p, bias=False)
        return [conv, nn.Tanh()] if last else [conv, nn.BatchNorm2d(o), nn.ReLU(True)]

    def down(i, o, s, p, bn=True):
        layers = [nn.Conv2d(i, o, 4, s, p, bias=False)]
        return layers + ([nn.BatchNorm2d(o)] if bn else []) + [nn.LeakyReLU(0.2, inplace=True)]

    class Generator(nn.Module):
        def __init__(self, ngpu=1):
            super().__init__()
            self.ngpu = ngpu
            self.main = nn.Sequential(*up(nz, ngf * 8, 1, 0), *up(ngf * 8, ngf * 4, 2, 1),
                                      *up(ngf * 4, ngf * 2, 2, 1), *up(ngf * 2, ngf, 2, 1),
                                      *up(ngf, nc, 2, 1, last=True))

        def forward(self, input):
            if input.is_cuda and self.ngpu > 1:
                return nn.parallel.data_parallel(self.main, input, range(self.ngpu))
            return self.main(input)

    class Discriminator(nn.Module):
        def __init__(self):
            super().__init__()
            self.main = nn.Sequential(*down(nc, ndf, 2, 1, bn=False), *down(ndf, ndf * 2, 2, 1),
                                      *down(ndf * 2, ndf * 4, 2, 1), *down(ndf * 4, ndf * 8, 2, 1),
                                      nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid())

        def forward(self, input):
            return self.main(input).view(-1, 1).squeeze(1)
    return Generator, Discriminator, weights_init


def _dcgan_run(lib, real, nz=8):
    Generator, Discriminator, weights_init = _dcgan(lib)
    netG, netD = Generator(), Discriminator()
    netG.apply(weights_init)
    netD.apply(weights_init)
    init = {k: np_of(v).copy() for k, v in netG.state_dict().items()}
    criterion = lib.nn.BCELoss()
    fixed_noise = lib.randn(4, nz, 1, 1)
    real_label, fake_label = 1, 0
    optimizerD = lib.optim.Adam(netD.parameters(), lr=0.0002, betas=(0.5, 0.999))
    optimizerG = lib.optim.Adam(netG.parameters(), lr=0.0002, betas=(0.5, 0.999))
    log = []
    for real_cpu in real:
        real_cpu = lib.tensor(real_cpu)
        netD.zero_grad()
        batch_size = real_cpu.size(0)
        label = lib.full((batch_size,), real_label, dtype=real_cpu.dtype)
        output = netD(real_cpu)
        errD_real = criterion(output, label)
        errD_real.backward()
        D_x = output.mean().item()
        fake = netG(lib.randn(batch_size, nz, 1, 1))
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        optimizerD.step()
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        log.append([errD.item(), errG.item(), D_x, D_G_z1, output.mean().item()])
    with lib.no_grad():
        fake = netG(fixed_noise).detach()
    return init, log, fake, netG, netD


def test_dcgan_weights_init_and_training_steps_on_torch_stream():
    real = np.tanh(np.random.default_rng(2).standard_normal((2, 4, 3, 64, 64)))
    t, z = _both(_dcgan_run, real)
    for k in t[0]:                          # normal_(0, 0.02) / (1, 0.02) on the same stream
        close(z[0][k], t[0][k], rtol=1e-12, atol=1e-15)
    close(z[1], t[1])
    close(z[2], t[2])
    _same_params(z[3], t[3], rtol=1e-8, atol=1e-12)
    _same_params(z[4], t[4], rtol=1e-8, atol=1e-12)     # running stats included


# --- word_language_model: RNNModel, TransformerModel, batchify, bptt, clipping, generation ---

def _rnn_model(lib, rnn_type, ntoken, ninp, nhid, nlayers, dropout=0.2, tie_weights=False):
    nn, F = lib.nn, lib.nn.functional

    class RNNModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.ntoken, self.rnn_type, self.nhid, self.nlayers = ntoken, rnn_type, nhid, nlayers
            self.drop = nn.Dropout(dropout)
            self.encoder = nn.Embedding(ntoken, ninp)
            if rnn_type in ("LSTM", "GRU"):
                self.rnn = getattr(nn, rnn_type)(ninp, nhid, nlayers, dropout=dropout)
            else:
                nonlinearity = {"RNN_TANH": "tanh", "RNN_RELU": "relu"}[rnn_type]
                self.rnn = nn.RNN(ninp, nhid, nlayers, nonlinearity=nonlinearity,
                                  dropout=dropout)
            self.decoder = nn.Linear(nhid, ntoken)
            if tie_weights:
                self.decoder.weight = self.encoder.weight
            nn.init.uniform_(self.encoder.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

        def forward(self, input, hidden):
            emb = self.drop(self.encoder(input))
            output, hidden = self.rnn(emb, hidden)
            decoded = self.decoder(self.drop(output)).view(-1, self.ntoken)
            return F.log_softmax(decoded, dim=1), hidden

        def init_hidden(self, bsz):
            weight = next(self.parameters())
            if self.rnn_type == "LSTM":
                return (weight.new_zeros(self.nlayers, bsz, self.nhid),
                        weight.new_zeros(self.nlayers, bsz, self.nhid))
            return weight.new_zeros(self.nlayers, bsz, self.nhid)
    return RNNModel()


def _transformer_model(lib, ntoken, ninp, nhead, nhid, nlayers, dropout=0.2):
    nn, F = lib.nn, lib.nn.functional

    class PositionalEncoding(nn.Module):
        def __init__(self, d_model, dropout=0.1, max_len=64):
            super().__init__()
            self.dropout = nn.Dropout(p=dropout)
            pe = lib.zeros(max_len, d_model)
            position = lib.arange(0, max_len, dtype=lib.float).unsqueeze(1)
            div_term = lib.exp(lib.arange(0, d_model, 2).float()
                               * (-math.log(10000.0) / d_model))
            pe[:, 0::2] = lib.sin(position * div_term)
            pe[:, 1::2] = lib.cos(position * div_term)
            self.register_buffer("pe", pe.unsqueeze(0).transpose(0, 1))

        def forward(self, x):
            return self.dropout(x + self.pe[:x.size(0), :])

    class TransformerModel(nn.Transformer):
        def __init__(self):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                             num_encoder_layers=nlayers, num_decoder_layers=1)
            self.src_mask, self.ninp = None, ninp
            self.pos_encoder = PositionalEncoding(ninp, dropout)
            self.input_emb = nn.Embedding(ntoken, ninp)
            self.decoder = nn.Linear(ninp, ntoken)      # replaces nn.Transformer's decoder
            nn.init.uniform_(self.input_emb.weight, -0.1, 0.1)
            nn.init.zeros_(self.decoder.bias)
            nn.init.uniform_(self.decoder.weight, -0.1, 0.1)

        def _generate_square_subsequent_mask(self, sz):
            mask = (lib.triu(lib.ones(sz, sz)) == 1).transpose(0, 1)
            return mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(
                mask == 1, float(0.0))

        def forward(self, src, has_mask=True):
            if has_mask:
                if self.src_mask is None or self.src_mask.size(0) != len(src):
                    self.src_mask = self._generate_square_subsequent_mask(len(src)).to(
                        src.device)
            else:
                self.src_mask = None
            src = self.pos_encoder(self.input_emb(src) * math.sqrt(self.ninp))
            output = self.encoder(src, mask=self.src_mask)
            return F.log_softmax(self.decoder(output), dim=-1)
    return TransformerModel()


def _batchify(data, bsz):
    nbatch = data.size(0) // bsz
    return data.narrow(0, 0, nbatch * bsz).view(bsz, -1).t().contiguous()


def _get_batch(source, i, bptt):
    seq_len = min(bptt, len(source) - 1 - i)
    return source[i:i + seq_len], source[i + 1:i + 1 + seq_len].view(-1)


def _repackage_hidden(lib, h):
    if isinstance(h, lib.Tensor):
        return h.detach()
    return tuple(_repackage_hidden(lib, v) for v in h)


def _lm_run(lib, tmodel, kind, ids, bptt=5, lr=20.0, clip=0.25):
    model = (_transformer_model(lib, 11, 8, 2, 16, 2) if kind == "Transformer"
             else _rnn_model(lib, kind, 11, 8, 8, 2, tie_weights=kind == "GRU"))
    model.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tmodel.state_dict().items()})
    lib.manual_seed(3)
    train_data = _batchify(lib.tensor(ids), 3)
    criterion = lib.nn.NLLLoss()
    losses, ntokens = [], 11
    model.train()
    if kind != "Transformer":
        hidden = model.init_hidden(3)
    for i in range(0, train_data.size(0) - 1, bptt):
        data, targets = _get_batch(train_data, i, bptt)
        model.zero_grad()
        if kind == "Transformer":
            output = model(data).view(-1, ntokens)
        else:
            hidden = _repackage_hidden(lib, hidden)
            output, hidden = model(data, hidden)
        loss = criterion(output, targets)
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lr)
        losses.append(loss.item())
    return losses, _generate(lib, model, kind), model


def _generate(lib, model, kind, words=6, temperature=1.0):
    """generate.py: sample word after word with multinomial."""
    model.eval()
    input = lib.randint(11, (1, 1), dtype=lib.long)
    out = []
    with lib.no_grad():
        hidden = None if kind == "Transformer" else model.init_hidden(1)
        for _ in range(words):
            if kind == "Transformer":
                output = model(input, False)
                word_weights = output[-1].squeeze().div(temperature).exp().cpu()
                word_idx = lib.multinomial(word_weights, 1)[0]
                input = lib.cat([input, lib.Tensor([[word_idx]]).long()], 0)
            else:
                output, hidden = model(input, hidden)
                word_weights = output.squeeze().div(temperature).exp().cpu()
                word_idx = lib.multinomial(word_weights, 1)[0]
                input.fill_(word_idx)
            out.append(word_idx.item())
    return out


NESTED = "ignore:enable_nested_tensor is True:UserWarning"      # torch's, batch_first=False


@pytest.mark.filterwarnings(NESTED)
@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN_TANH", "RNN_RELU", "Transformer"])
def test_word_language_model_train_clip_and_generate(kind):
    ids = np.random.default_rng(4).integers(0, 11, 50)
    torch.manual_seed(0)
    tmodel = (_transformer_model(torch, 11, 8, 2, 16, 2) if kind == "Transformer"
              else _rnn_model(torch, kind, 11, 8, 8, 2, tie_weights=kind == "GRU"))
    t, z = _both(_lm_run, tmodel.double(), kind, ids)
    close(z[0], t[0], rtol=1e-9, atol=1e-10)
    assert z[1] == t[1]                     # the generated words: the same multinomial draws
    _same_params(z[2], t[2], rtol=1e-8, atol=1e-10)
    if kind == "GRU":                       # tied: one tensor, one entry in parameters()
        assert z[2].decoder.weight is z[2].encoder.weight
        assert len(list(z[2].parameters())) == len(list(t[2].parameters()))


@pytest.mark.filterwarnings(NESTED)
def test_word_language_model_mask_is_nn_transformers():
    for lib in (torch, zeroin):
        model = _transformer_model(lib, 11, 8, 2, 16, 2)
        mask = model._generate_square_subsequent_mask(5)
        ref = lib.nn.Transformer.generate_square_subsequent_mask(5)
        assert mask.dtype == lib.float32 and bool((mask == ref).all())
        assert np_of(mask)[0, 1] == -np.inf and np_of(mask)[1, 0] == 0


# --- time_sequence_prediction: LSTMCells on sine waves, LBFGS with a closure, the future -----

def _sine_waves(n=5, length=30, period=20, seed=0):
    """generate_sine_wave.py's data, smaller: shifted sine waves in float64."""
    rng = np.random.default_rng(seed)
    x = np.arange(length) + rng.integers(-4 * period, 4 * period, n).reshape(n, 1)
    return np.sin(x / 1.0 / period).astype("float64")


def _sequence(lib, hidden=7):
    nn = lib.nn

    class Sequence(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm1, self.lstm2 = nn.LSTMCell(1, hidden), nn.LSTMCell(hidden, hidden)
            self.linear = nn.Linear(hidden, 1)
            self.dummy_param = nn.Parameter(lib.empty(0))

        def forward(self, input, future=0):
            outputs, device = [], self.dummy_param.device
            h_t, c_t, h_t2, c_t2 = (lib.zeros(input.size(0), hidden, dtype=lib.double).to(device)
                                    for _ in range(4))
            for input_t in input.split(1, dim=1):
                h_t, c_t = self.lstm1(input_t, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            for i in range(future):
                h_t, c_t = self.lstm1(output, (h_t, c_t))
                h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
                output = self.linear(h_t2)
                outputs += [output]
            return lib.cat(outputs, dim=1)
    return Sequence


def _sequence_run(lib, tmodel, waves, steps=2, future=8):
    data = lib.from_numpy(waves)
    input, target = data[2:, :-1], data[2:, 1:]
    test_input, test_target = data[:2, :-1], data[:2, 1:]
    seq = _sequence(lib)().double()
    seq.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tmodel.state_dict().items()})
    criterion = lib.nn.MSELoss()
    optimizer = lib.optim.LBFGS(seq.parameters(), lr=0.8)
    losses, test_losses = [], []
    for i in range(steps):
        def closure():
            optimizer.zero_grad()
            loss = criterion(seq(input), target)
            losses.append(loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        with lib.no_grad():
            pred = seq(test_input, future=future)
            test_losses.append(criterion(pred[:, :-future], test_target).item())
            y = pred.detach().numpy()
    return losses, test_losses, y, seq


def test_time_sequence_prediction_lbfgs_closure_and_future():
    waves = _sine_waves()
    tmodel = _sequence(torch)().double()
    t, z = _both(_sequence_run, tmodel, waves, stream=False)
    assert len(z[0]) == len(t[0]) > 2       # LBFGS called the closure as often
    close(z[0], t[0], rtol=1e-8, atol=1e-10)
    close(z[1], t[1], rtol=1e-8, atol=1e-10)
    assert z[2].shape == (2, 29 + 8) and isinstance(z[2], np.ndarray)
    close(z[2], t[2], rtol=1e-7, atol=1e-9)
    _same_params(z[3], t[3], rtol=1e-7, atol=1e-9)


# --- reinforcement_learning: REINFORCE and actor-critic on a small environment ---------------

class _Corridor:
    """A stand-in for CartPole: a 4-number state, actions 0 / 1 push a cart left or right; an
    episode ends when it leaves [-1, 1] or after ``limit`` steps; reward 1 a step."""

    def __init__(self, limit=12):
        self.limit = limit

    def reset(self):
        self.t, self.s = 0, np.array([0.05, -0.02, 0.03, 0.01])
        return self.s.copy()

    def step(self, action):
        self.t += 1
        push = 0.1 if action == 1 else -0.1
        x, v, a, w = self.s
        self.s = np.array([x + v, v + push, a + 0.5 * w - 0.2 * x, w - a * 0.3])
        done = abs(self.s[0]) > 1 or self.t >= self.limit
        return self.s.copy(), 1.0, done, {}


def _reinforce(lib, actor_critic):
    nn, F = lib.nn, lib.nn.functional

    class Policy(nn.Module):
        def __init__(self):
            super().__init__()
            self.affine1 = nn.Linear(4, 16)
            if actor_critic:
                self.action_head, self.value_head = nn.Linear(16, 2), nn.Linear(16, 1)
            else:
                self.dropout, self.affine2 = nn.Dropout(p=0.6), nn.Linear(16, 2)
            self.saved_log_probs, self.saved_actions, self.rewards = [], [], []

        def forward(self, x):
            if actor_critic:
                x = F.relu(self.affine1(x))
                return F.softmax(self.action_head(x), dim=-1), self.value_head(x)
            x = F.relu(self.dropout(self.affine1(x)))
            return F.softmax(self.affine2(x), dim=1)
    return Policy


def _rl_run(lib, tmodel, actor_critic, episodes=3, gamma=0.99):
    F, Categorical = lib.nn.functional, lib.distributions.Categorical
    policy = _reinforce(lib, actor_critic)()
    policy.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tmodel.state_dict().items()})
    lib.manual_seed(543)
    optimizer = lib.optim.Adam(policy.parameters(), lr=1e-2 if not actor_critic else 3e-2)
    eps = np.finfo(np.float32).eps.item()
    SavedAction = namedtuple("SavedAction", ["log_prob", "value"])
    env, log = _Corridor(), []

    def select_action(state):
        if actor_critic:
            probs, state_value = policy(lib.from_numpy(state).float())
        else:
            probs = policy(lib.from_numpy(state).float().unsqueeze(0))
        m = Categorical(probs)
        action = m.sample()
        if actor_critic:
            policy.saved_actions.append(SavedAction(m.log_prob(action), state_value))
        else:
            policy.saved_log_probs.append(m.log_prob(action))
        return action.item()

    def finish_episode():
        R, returns = 0, []
        for r in policy.rewards[::-1]:
            R = r + gamma * R
            returns.insert(0, R)
        returns = lib.tensor(returns)
        returns = (returns - returns.mean()) / (returns.std() + eps)
        if actor_critic:
            policy_losses, value_losses = [], []
            for (log_prob, value), R in zip(policy.saved_actions, returns):
                advantage = R - value.item()
                policy_losses.append(-log_prob * advantage)
                value_losses.append(F.smooth_l1_loss(value, lib.tensor([R])))
            optimizer.zero_grad()
            loss = lib.stack(policy_losses).sum() + lib.stack(value_losses).sum()
        else:
            policy_loss = [-log_prob * R for log_prob, R in zip(policy.saved_log_probs, returns)]
            optimizer.zero_grad()
            loss = lib.cat(policy_loss).sum()
        loss.backward()
        optimizer.step()
        del policy.rewards[:], policy.saved_log_probs[:], policy.saved_actions[:]
        return loss.item()

    for _ in range(episodes):
        state, actions = env.reset(), []
        for t in range(1, 100):
            action = select_action(state)
            actions.append(action)
            state, reward, done, _ = env.step(action)
            policy.rewards.append(reward)
            if done:
                break
        log.append((actions, finish_episode()))
    return log, policy


@pytest.mark.parametrize("actor_critic", [False, True], ids=["reinforce", "actor_critic"])
def test_reinforcement_learning_categorical_returns_and_update(actor_critic):
    torch.manual_seed(0)
    tmodel = _reinforce(torch, actor_critic)()
    t, z = _both(_rl_run, tmodel, actor_critic, dtype="float32")
    assert [a for a, _ in z[0]] == [a for a, _ in t[0]]     # the same sampled actions
    close([v for _, v in z[0]], [v for _, v in t[0]], **F32)
    _same_params(z[1], t[1], **F32)
    assert all(p.dtype == zeroin.float32 for p in z[1].parameters())


# --- siamese_network: resnet18's trunk shared by two images, BCELoss, Adadelta ---------------

def _torch_resnet18():
    """torchvision's resnet18, written out (torchvision is not installed): the same modules,
    names and order, so that its state_dict is zeroin.vision.models.resnet18's."""
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, i, o, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(i, o, 3, stride, 1, bias=False)
            self.bn1, self.relu = nn.BatchNorm2d(o), nn.ReLU(inplace=True)
            self.conv2, self.bn2 = nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)
            self.downsample = (nn.Sequential(nn.Conv2d(i, o, 1, stride, bias=False),
                                             nn.BatchNorm2d(o)) if stride != 1 else None)

        def forward(self, x):
            out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
            return self.relu(out + (x if self.downsample is None else self.downsample(x)))

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1, self.relu = nn.BatchNorm2d(64), nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            for k, (i, o, s) in enumerate([(64, 64, 1), (64, 128, 2), (128, 256, 2),
                                           (256, 512, 2)]):
                setattr(self, f"layer{k + 1}", nn.Sequential(BasicBlock(i, o, s),
                                                             BasicBlock(o, o, 1)))
            self.avgpool, self.fc = nn.AdaptiveAvgPool2d((1, 1)), nn.Linear(512, 1000)
    return ResNet()


def _siamese(lib):
    nn = lib.nn

    class SiameseNetwork(nn.Module):
        def __init__(self):
            super().__init__()
            resnet = (_torch_resnet18() if lib is torch
                      else lib.vision.models.resnet18(weights=None))
            resnet.conv1 = nn.Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3),
                                     bias=False)
            self.fc_in_features = resnet.fc.in_features
            self.resnet = nn.Sequential(*(list(resnet.children())[:-1]))
            self.fc = nn.Sequential(nn.Linear(self.fc_in_features * 2, 256), nn.ReLU(inplace=True),
                                    nn.Linear(256, 1))
            self.sigmoid = nn.Sigmoid()
            self.resnet.apply(self.init_weights)
            self.fc.apply(self.init_weights)

        def init_weights(self, m):
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform(m.weight)            # the example's deprecated name
                m.bias.data.fill_(0.01)

        def forward_once(self, x):
            output = self.resnet(x)
            return output.view(output.size()[0], -1)

        def forward(self, input1, input2):
            output = lib.cat((self.forward_once(input1), self.forward_once(input2)), 1)
            return self.sigmoid(self.fc(output))
    return SiameseNetwork


def _pairs(lib, images, labels):
    """APP_MATCHER's idea, smaller: even items a pair of one class (target 1), odd items two
    classes (target 0), the classes and images drawn with Python's ``random``."""
    groups = {c: np.where(labels == c)[0] for c in range(3)}

    class Pairs(lib.utils.data.Dataset):
        def __len__(self):
            return len(images)

        def __getitem__(self, index):
            c = random.randint(0, 2)
            other = c if index % 2 == 0 else random.choice([k for k in range(3) if k != c])
            i1, i2 = random.choice(groups[c]), random.choice(groups[other])
            f = lib.get_default_dtype()             # the example's .float(), in float64 here
            return (lib.tensor(images[i1]).to(f), lib.tensor(images[i2]).to(f),
                    lib.tensor(float(index % 2 == 0), dtype=f))
    return Pairs()


def _siamese_run(lib, tmodel, images, labels):
    model = _siamese(lib)()
    model.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tmodel.state_dict().items()})
    random.seed(0)
    loader = lib.utils.data.DataLoader(_pairs(lib, images, labels), batch_size=4)
    optimizer = lib.optim.Adadelta(model.parameters(), lr=1.0)
    scheduler = lib.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    criterion, log = lib.nn.BCELoss(), []
    model.train()
    for images_1, images_2, targets in loader:
        optimizer.zero_grad()
        loss = criterion(model(images_1, images_2).squeeze(), targets)
        loss.backward()
        optimizer.step()
        log.append(loss.item())
    scheduler.step()
    model.eval()
    with lib.no_grad():
        images_1, images_2, targets = next(iter(loader))
        outputs = model(images_1, images_2).squeeze()
        pred = lib.where(outputs > 0.5, 1, 0)
        correct = pred.eq(targets.view_as(pred)).sum().item()
    return log, outputs, correct, model


def test_siamese_network_resnet18_trunk_bce_adadelta():
    rng = np.random.default_rng(5)
    # pixels in [0, 1]: the example's raw 0-255 saturate the sigmoid, where BCELoss's clamp
    # of log(0) at -100 (the same in both) makes the gradients ill-conditioned
    images, labels = rng.random((4, 1, 28, 28)), np.arange(4) % 3
    torch.manual_seed(0)
    with pytest.warns(FutureWarning, match="xavier_uniform_"):
        tmodel = _siamese(torch)()
    with pytest.warns(FutureWarning, match="xavier_uniform_"):
        t, z = _both(_siamese_run, tmodel.double(), images, labels, stream=False)
    assert list(z[3].state_dict())[:2] == ["resnet.0.weight", "resnet.1.weight"]
    # one step: the gradients agree to 1e-12 (of the largest), but Adadelta(lr=1.0)'s first
    # steps are about sign(grad) * sqrt(eps / (1 - rho)), which magnifies the rounding of
    # an entry near 0 (and the BLAS threads' order of sums varies from run to run): the
    # weights agree to 2e-9 after one step, 3e-8 to 1e-7 after two
    close(z[0], t[0], rtol=1e-10)
    close(z[1], t[1], rtol=1e-9)
    assert z[2] == t[2] and isinstance(z[2], int)
    _same_params(z[3], t[3], rtol=1e-8, atol=5e-9)


# --- super_resolution: PixelShuffle, orthogonal init, MSE and PSNR, super_resolve -----------

def _super_resolution(lib, upscale_factor=3):
    nn, init = lib.nn, lib.nn.init

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU()
            self.conv1 = nn.Conv2d(1, 16, (5, 5), (1, 1), (2, 2))
            self.conv2 = nn.Conv2d(16, 16, (3, 3), (1, 1), (1, 1))
            self.conv3 = nn.Conv2d(16, 8, (3, 3), (1, 1), (1, 1))
            self.conv4 = nn.Conv2d(8, upscale_factor ** 2, (3, 3), (1, 1), (1, 1))
            self.pixel_shuffle = nn.PixelShuffle(upscale_factor)
            for conv in (self.conv1, self.conv2, self.conv3):
                init.orthogonal_(conv.weight, init.calculate_gain("relu"))
            init.orthogonal(self.conv4.weight)              # the deprecated name

        def forward(self, x):
            x = self.relu(self.conv3(self.relu(self.conv2(self.relu(self.conv1(x))))))
            return self.pixel_shuffle(self.conv4(x))
    return Net


def _super_resolution_run(lib, tmodel, lowres, highres):
    model = copy_weights(tmodel, _super_resolution(lib)()) if lib is zeroin \
        else copy.deepcopy(tmodel)
    criterion = lib.nn.MSELoss()
    optimizer = lib.optim.Adam(model.parameters(), lr=0.01)
    inp, target = lib.tensor(lowres), lib.tensor(highres)
    log = []
    for _ in range(3):
        optimizer.zero_grad()
        loss = criterion(model(inp), target)
        loss.backward()
        optimizer.step()
        log.append(loss.item())
    with lib.no_grad():
        mse = criterion(model(inp), target)
        psnr = 10 * math.log10(1 / mse.item())
        out = model(inp[:1])
    out_img_y = out[0].detach().numpy()
    out_img_y *= 255.0
    return log, psnr, out_img_y.clip(0, 255), model


def test_super_resolution_pixel_shuffle_psnr_and_super_resolve():
    rng = np.random.default_rng(6)
    highres = rng.random((2, 1, 12, 12))
    lowres = highres.reshape(2, 1, 4, 3, 4, 3).mean(axis=(3, 5))
    torch.manual_seed(0)
    with pytest.warns(FutureWarning, match="orthogonal_"):
        tmodel = _super_resolution(torch)().double()
    with pytest.warns(FutureWarning, match="orthogonal_"):
        t, z = _both(_super_resolution_run, tmodel, lowres, highres, stream=False)
    close(z[0], t[0])
    assert z[1] == pytest.approx(t[1], rel=1e-12) and isinstance(z[1], float)
    assert z[2].shape == (1, 12, 12)
    close(z[2], t[2], rtol=1e-10, atol=1e-8)
    _same_params(z[3], t[3])


# --- mnist_rnn: LSTM(batch_first), BatchNorm1d, Dropout2d on (N, C), Adadelta --------------

def _mnist_rnn(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(input_size=28, hidden_size=16, batch_first=True)
            self.batchnorm = nn.BatchNorm1d(16)
            self.dropout1, self.dropout2 = nn.Dropout2d(0.25), nn.Dropout2d(0.5)
            self.fc1, self.fc2 = nn.Linear(16, 12), nn.Linear(12, 10)

        def forward(self, input):
            output, hidden = self.rnn(input.reshape(-1, 28, 28))
            output = self.dropout1(self.batchnorm(output[:, -1, :]))
            output = self.dropout2(F.relu(self.fc1(output)))
            return F.log_softmax(self.fc2(output), dim=1)
    return Net


def _mnist_rnn_run(lib, tmodel, data):
    F = lib.nn.functional
    model = _mnist_rnn(lib)()
    model.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tmodel.state_dict().items()})
    lib.manual_seed(1)
    optimizer = lib.optim.Adadelta(model.parameters(), lr=0.1)
    scheduler = lib.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.7)
    x, y = lib.tensor(data[0]), lib.tensor(data[1])
    log = []
    for epoch in range(2):
        model.train()
        for i in range(0, len(x), 6):
            optimizer.zero_grad()
            loss = F.nll_loss(model(x[i:i + 6]), y[i:i + 6])
            loss.backward()
            optimizer.step()
            log.append(loss.item())
        scheduler.step()
    model.eval()
    with lib.no_grad():
        output = model(x)
        log.append(F.nll_loss(output, y, reduction="sum").item())
    return log, output, model


def test_mnist_rnn_lstm_batchnorm1d_dropout2d_on_torch_stream():
    data = _mnist_like(12)
    tmodel = _mnist_rnn(torch)().double()
    with pytest.warns(UserWarning, match="2-D input to dropout2d"):
        t, z = _both(_mnist_rnn_run, tmodel, data)
    close(z[0], t[0])
    close(z[1], t[1])
    _same_params(z[2], t[2], rtol=1e-9, atol=1e-11)


# --- mnist_forward_forward: layer-local goodness, a Linear subclass with its own train() ----

def _forward_forward(lib, threshold=2.0, epochs=4, lr=0.03):
    nn = lib.nn

    class Layer(nn.Linear):
        def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
            super().__init__(in_features, out_features, bias, device, dtype)
            self.relu = nn.ReLU()
            self.opt = lib.optim.Adam(self.parameters(), lr=lr)

        def forward(self, x):
            x_direction = x / (x.norm(2, 1, keepdim=True) + 1e-4)
            return self.relu(lib.mm(x_direction, self.weight.T) + self.bias.unsqueeze(0))

        def train(self, x_pos, x_neg):             # shadows Module.train, as the example's
            losses = []
            for i in range(epochs):
                g_pos = self.forward(x_pos).pow(2).mean(1)
                g_neg = self.forward(x_neg).pow(2).mean(1)
                loss = lib.log1p(lib.exp(lib.cat([-g_pos + threshold,
                                                  g_neg - threshold]))).mean()
                self.opt.zero_grad()
                loss.backward()
                self.opt.step()
                losses.append(loss.item())
            return self.forward(x_pos).detach(), self.forward(x_neg).detach(), losses

    class Net(nn.Module):
        def __init__(self, dims):
            super().__init__()
            self.layers = [Layer(dims[d], dims[d + 1]) for d in range(len(dims) - 1)]

        def predict(self, x):
            goodness_per_label = []
            for label in range(10):
                h, goodness = _overlay_y_on_x(x, label), []
                for layer in self.layers:
                    h = layer(h)
                    goodness = goodness + [h.pow(2).mean(1)]
                goodness_per_label += [sum(goodness).unsqueeze(1)]
            return lib.cat(goodness_per_label, 1).argmax(1)

        def train(self, x_pos, x_neg):
            h_pos, h_neg, losses = x_pos, x_neg, []
            for layer in self.layers:
                h_pos, h_neg, layer_losses = layer.train(h_pos, h_neg)
                losses += layer_losses
            return losses
    return Net


def _overlay_y_on_x(x, y, classes=10):
    x_ = x.clone()
    x_[:, :classes] *= 0.0
    x_[range(x.shape[0]), y] = x.max()
    return x_


def _get_y_neg(lib, y):
    y_neg = y.clone()
    for idx, y_samp in enumerate(y):
        allowed_indices = list(range(10))
        allowed_indices.remove(y_samp.item())
        y_neg[idx] = lib.tensor(allowed_indices)[lib.randint(len(allowed_indices),
                                                             size=(1,))].item()
    return y_neg


def _ff_run(lib, tnet, data):
    net = _forward_forward(lib)([784, 24, 24])
    for layer, tlayer in zip(net.layers, tnet.layers):
        layer.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tlayer.state_dict().items()})
    lib.manual_seed(1)
    x, y = lib.tensor(data[0]).flatten(1), lib.tensor(data[1])
    x_pos = _overlay_y_on_x(x, y)
    y_neg = _get_y_neg(lib, y)
    losses = net.train(x_pos, _overlay_y_on_x(x, y_neg))
    error = 1.0 - net.predict(x).eq(y).float().mean().item()
    return y_neg, losses, error, net.predict(x), [layer.weight for layer in net.layers]


def test_mnist_forward_forward_overlay_negatives_layer_train_predict():
    data = _mnist_like(16, dtype=np.float32)
    torch.manual_seed(0)
    tnet = _forward_forward(torch)([784, 24, 24])
    assert list(tnet.state_dict()) == []            # layers in a plain list: not registered
    t, z = _both(_ff_run, tnet, data, dtype="float32")
    assert list(_forward_forward(zeroin)([784, 24, 24]).state_dict()) == []
    assert z[0].tolist() == t[0].tolist()           # torch.randint on the same stream
    close(z[1], t[1], **F32)
    assert z[2] == pytest.approx(t[2])
    assert z[3].tolist() == t[3].tolist()
    for zw, tw in zip(z[4], t[4]):
        close(zw, tw, **F32)


# --- gcn: GraphConv layers over the normalised adjacency, NLLLoss on index masks -----------

def _cora_like(n=14, nfeat=9, seed=7):
    """cora.content / cora.cites in small: paper ids, 0/1 features, 3 labels, citations
    (one repeated: a sparse tensor sums duplicates)."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(1000)[:n] + 100
    feats = (rng.random((n, nfeat)) < 0.4).astype(np.int32)
    feats[feats.sum(1) == 0, 0] = 1
    labels = np.array(["Theory", "Neural_Networks", "Rule_Learning"])[rng.integers(0, 3, n)]
    cites = ids[rng.integers(0, n, (24, 2))]
    return ids, feats, labels, np.concatenate([cites, cites[:1]])


def _load_cora(lib, ids, feats, label_names, cites):
    """load_cora(), with the example's sparse tensors for torch and zeroin's dense ones."""
    features = lib.FloatTensor(feats)
    scale_vector = 1 / lib.sum(features, dim=1)
    scale_vector[scale_vector == float("inf")] = 0
    sparse = (lambda t: t.to_sparse()) if lib is torch else (lambda t: t)
    features = sparse(lib.diag(scale_vector)) @ features
    classes, labels = np.unique(label_names, return_inverse=True)
    labels = lib.LongTensor(labels)
    idx_map = {j: i for i, j in enumerate(ids)}
    edges = np.array([[idx_map[a], idx_map[b]] for a, b in cites], dtype=np.int32)
    V, E = len(ids), edges.shape[0]
    if lib is torch:
        adj_mat = torch.sparse_coo_tensor(edges.T, torch.ones(E), (V, V), dtype=torch.int64)
    else:                                   # the dense matrix, duplicates summed as coalesce
        adj_mat = lib.zeros(V, V, dtype=lib.int64).index_put_(
            (lib.tensor(edges[:, 0]).long(), lib.tensor(edges[:, 1]).long()),
            lib.ones(E, dtype=lib.int64), accumulate=True)
    adj_mat = lib.eye(V) + adj_mat
    degree_mat = lib.sqrt(1 / lib.sum(adj_mat, dim=1))
    degree_mat[degree_mat == float("inf")] = 0
    degree_mat = sparse(lib.diag(degree_mat))
    adj_mat = degree_mat @ adj_mat @ degree_mat
    return sparse(features), labels, sparse(adj_mat)


def _gcn(lib):
    nn, F = lib.nn, lib.nn.functional

    class GraphConv(nn.Module):
        def __init__(self, input_dim, output_dim, use_bias=False):
            super().__init__()
            self.kernel = nn.Parameter(lib.Tensor(input_dim, output_dim))
            nn.init.xavier_normal_(self.kernel)
            self.bias = None
            if use_bias:
                self.bias = nn.Parameter(lib.Tensor(output_dim))
                nn.init.zeros_(self.bias)

        def forward(self, input_tensor, adj_mat):
            output = lib.spmm(adj_mat, lib.mm(input_tensor, self.kernel))
            return output if self.bias is None else output + self.bias

    class GCN(nn.Module):
        def __init__(self, input_dim, hidden_dim, output_dim, use_bias=True, dropout_p=0.1):
            super().__init__()
            self.gc1 = GraphConv(input_dim, hidden_dim, use_bias=use_bias)
            self.gc2 = GraphConv(hidden_dim, output_dim, use_bias=use_bias)
            self.dropout = nn.Dropout(dropout_p)

        def forward(self, input_tensor, adj_mat):
            x = self.dropout(F.relu(self.gc1(input_tensor, adj_mat)))
            return F.log_softmax(self.gc2(x, adj_mat), dim=1)
    return GCN


def _gcn_run(lib, tmodel, cora):
    features, labels, adj_mat = _load_cora(lib, *cora)
    gcn = _gcn(lib)(features.shape[1], 8, labels.max().item() + 1, True, 0.5)
    gcn.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tmodel.state_dict().items()})
    lib.manual_seed(42)
    idx = lib.randperm(len(labels))
    idx_test, idx_val, idx_train = idx[:4], idx[4:7], idx[7:]
    optimizer = lib.optim.Adam(gcn.parameters(), lr=0.01, weight_decay=5e-4)
    criterion, log = lib.nn.NLLLoss(), []

    def test(mask):
        gcn.eval()
        with lib.no_grad():
            output, target = gcn(features, adj_mat)[mask], labels[mask]
            loss = criterion(output, target)
            acc = (output.argmax(dim=1) == target).float().sum() / len(target)
        return loss.item(), acc.item()

    for epoch in range(3):
        gcn.train()
        optimizer.zero_grad()
        output = gcn(features, adj_mat)
        loss = criterion(output[idx_train], labels[idx_train])
        loss.backward()
        optimizer.step()
        log += [loss.item(), *test(idx_train), *test(idx_val)]
    return log + list(test(idx_test)), np_of(adj_mat.to_dense()), gcn


@pytest.mark.filterwarnings("ignore:Sparse invariant checks:UserWarning")    # torch's
def test_gcn_normalised_adjacency_graphconv_and_masked_nll():
    cora = _cora_like()
    torch.manual_seed(0)
    tmodel = _gcn(torch)(9, 8, 3, True, 0.5)
    t, z = _both(_gcn_run, tmodel, cora, dtype="float32")
    close(z[1], t[1], **F32)                # D^-1/2 (A + I) D^-1/2, duplicates summed
    close(z[0], t[0], **F32)
    _same_params(z[2], t[2], **F32)


# --- vision_transformer: unfold patches, class token, MultiheadAttention, Adam -------------

def _vit(lib, batch_size=4, patch=4, latent=16, heads=2, encoders=2, classes=10, p=0.1):
    nn = lib.nn

    class PatchExtractor(nn.Module):
        def forward(self, input_data):
            b, c, h, w = input_data.size()
            assert h % patch == 0 and w % patch == 0
            return (input_data.unfold(2, patch, patch).unfold(3, patch, patch)
                    .permute(0, 2, 3, 1, 4, 5).contiguous()
                    .view(b, (h // patch) * (w // patch), -1))

    class InputEmbedding(nn.Module):
        def __init__(self):
            super().__init__()
            self.LinearProjection = nn.Linear(patch * patch * 3, latent)
            self.class_token = nn.Parameter(lib.randn(batch_size, 1, latent))
            self.pos_embedding = nn.Parameter(lib.randn(batch_size, 1, latent))

        def forward(self, input_data):
            linear_projection = self.LinearProjection(PatchExtractor()(input_data))
            b, n, _ = linear_projection.shape
            linear_projection = lib.cat((self.class_token, linear_projection), dim=1)
            linear_projection += self.pos_embedding[:, :n + 1, :]
            return linear_projection

    class EncoderBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm = nn.LayerNorm(latent)
            self.attention = nn.MultiheadAttention(latent, heads, dropout=p)
            self.enc_MLP = nn.Sequential(nn.Linear(latent, latent * 4), nn.GELU(), nn.Dropout(p),
                                         nn.Linear(latent * 4, latent), nn.Dropout(p))

        def forward(self, emb_patches):
            first_norm = self.norm(emb_patches)
            first_added = self.attention(first_norm, first_norm, first_norm)[0] + emb_patches
            return self.enc_MLP(self.norm(first_added)) + first_added

    class ViT(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = InputEmbedding()
            self.encoders = nn.ModuleList([EncoderBlock() for _ in range(encoders)])
            self.MLPHead = nn.Sequential(nn.LayerNorm(latent), nn.Linear(latent, latent),
                                         nn.Linear(latent, classes))

        def forward(self, test_input):
            enc_output = self.embedding(test_input)
            for enc_layer in self.encoders:
                enc_output = enc_layer(enc_output)
            return self.MLPHead(enc_output[:, 0])
    return ViT


def _vit_run(lib, tmodel, images, labels):
    model = _vit(lib)()
    model.load_state_dict({k: lib.tensor(np_of(v)) for k, v in tmodel.state_dict().items()})
    lib.manual_seed(2)
    optimizer = lib.optim.Adam(model.parameters(), lr=1e-2, weight_decay=3e-2)
    criterion = lib.nn.CrossEntropyLoss()
    loader = lib.utils.data.DataLoader(
        lib.utils.data.TensorDataset(lib.tensor(images), lib.tensor(labels)), batch_size=4)
    total_loss, log = 0.0, []
    model.train()
    for t, (x, y) in enumerate(lib.hub.tqdm(loader, desc="EPOCH[TRAIN]1/1", disable=True)):
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total_loss += loss.item()
        log.append(total_loss / (t + 1))
    model.eval()
    with lib.no_grad():
        log.append(criterion(model(lib.tensor(images[:4])), lib.tensor(labels[:4])).item())
    return log, model


def test_vision_transformer_patches_class_token_attention_adam():
    rng = np.random.default_rng(8)
    images, labels = rng.random((8, 3, 16, 16)), rng.integers(0, 10, 8)
    torch.manual_seed(0)
    tmodel = _vit(torch)().double()
    t, z = _both(_vit_run, tmodel, images, labels)
    close(z[0], t[0])
    # the keys' bias (in_proj_bias[16:32]) moves no score: its gradient is 0 up to rounding
    # (1e-17), which Adam scales up to steps of about lr * 1e-9; the rest agree to 1e-9
    zs, ts = z[1].state_dict(), t[1].state_dict()
    for k in ts:
        close(zs[k], ts[k], rtol=1e-9, atol=1e-7 if k.endswith("in_proj_bias") else 1e-11)


# --- regression: polynomial features, smooth_l1_loss, the hand-written update -------------

POLY_DEGREE = 4


def _regression_run(lib, steps=40):
    W_target = lib.randn(POLY_DEGREE, 1) * 5
    b_target = lib.randn(1) * 5

    def make_features(x):
        x = x.unsqueeze(1)
        return lib.cat([x ** i for i in range(1, POLY_DEGREE + 1)], 1)

    def poly_desc(W, b):
        result = "y = "
        for i, w in enumerate(W):
            result += "{:+.2f} x^{} ".format(w, i + 1)
        return result + "{:+.2f}".format(b[0])

    fc = lib.nn.Linear(W_target.size(0), 1)
    losses = []
    for batch_idx in range(1, steps + 1):
        batch_x = make_features(lib.randn(32))
        batch_y = batch_x.mm(W_target) + b_target.item()
        fc.zero_grad()
        output = lib.nn.functional.smooth_l1_loss(fc(batch_x), batch_y)
        loss = output.item()
        output.backward()
        if batch_idx == 1:                  # the example's update outside no_grad: refused
            with pytest.raises(RuntimeError, match="leaf"):
                fc.bias.add_(-0.1 * fc.bias.grad)
        with lib.no_grad():
            for param in fc.parameters():
                param.add_(-0.1 * param.grad)
        losses.append(loss)
    return (losses, poly_desc(fc.weight.view(-1), fc.bias),
            poly_desc(W_target.view(-1), b_target), fc)


def test_regression_poly_features_smooth_l1_and_manual_update():
    t, z = _both(_regression_run, dtype="float32")
    close(z[0], t[0], **F32)
    assert z[0][-1] < z[0][0] / 1.3
    assert z[2] == t[2]                     # randn on the same stream: the same target
    assert z[1] == t[1]                     # "y = +1.23 x^1 ... +4.56": a 0-d tensor's format
    _same_params(z[3], t[3], **F32)
