"""zeroin.utils.data against torch.utils.data: batch structure, dtypes, values, lengths and
errors of the same pipeline. Skipped where torch is not installed."""
import collections

import numpy as np
import pytest

import zeroin
from zeroin.utils import data as zdata

torch = pytest.importorskip("torch")
tdata = torch.utils.data


def _desc(x):
    """What a user sees of a batch: containers, tensor dtypes, shapes and values."""
    if isinstance(x, (torch.Tensor, zeroin.Tensor)):
        return ("tensor", str(x.dtype).split(".")[-1], tuple(x.shape), x.tolist())
    if isinstance(x, np.ndarray):
        return ("ndarray", str(x.dtype), x.tolist())
    if isinstance(x, dict):
        return {k: _desc(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return (type(x).__name__, [_desc(v) for v in x])
    return (type(x).__name__, x)


Point = collections.namedtuple("Point", "x y")


def _samples(kind):
    def sample(i):
        a = np.arange(3, dtype=np.float32) + i
        return {"str": (f"s{i}", i), "npstr": (np.array(list("abcde"))[i], i),
                "npscalar": (np.float32(i), np.int64(i), np.bool_(i % 2)),
                "dict": {"x": a, "y": float(i), "name": f"s{i}"},
                "namedtuple": Point(a, i), "array": a,
                "nested": ((a, [i, float(i)]), {"k": (i, a)})}[kind]
    return [sample(i) for i in range(5)]


def _dataset(mod, kind):
    samples = _samples(kind)

    class D(mod.Dataset):
        def __len__(self):
            return len(samples)

        def __getitem__(self, i):
            return samples[i]
    return D()


@pytest.mark.parametrize("kind", ["str", "npstr", "npscalar", "dict", "namedtuple", "array",
                                  "nested"])
def test_default_collate_batches_like_pytorch(kind):
    got = list(zdata.DataLoader(_dataset(zdata, kind), batch_size=2))
    want = list(tdata.DataLoader(_dataset(tdata, kind), batch_size=2))
    assert _desc(got) == _desc(want)


def _lists(x):
    """Tuples as lists: zeroin keeps a tuple sample a tuple under batch_size=None."""
    if isinstance(x, dict):
        return {k: _lists(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*map(_lists, x))
    if isinstance(x, (tuple, list)):
        return [_lists(v) for v in x]
    return x


@pytest.mark.parametrize("kind", ["npscalar", "dict", "namedtuple", "array", "nested"])
def test_batch_size_none_converts_numpy_to_tensors_like_pytorch(kind):
    got = list(zdata.DataLoader(_dataset(zdata, kind), batch_size=None))
    want = list(tdata.DataLoader(_dataset(tdata, kind), batch_size=None))
    assert _desc(_lists(got)) == _desc(want)
    assert not any(isinstance(v, np.ndarray) for v in got)


def test_default_convert_matches_pytorch():
    for data in [np.zeros(2, np.float32), (np.zeros(2), 3, "s"), [np.int64(4), 2.5],
                 {"a": np.ones((2, 2)), "b": "x"}, Point(np.arange(2), 1), np.array(["a"])]:
        assert _desc(zdata.default_convert(data)) == _desc(tdata.default_convert(data))


def test_default_collate_refuses_text_arrays_clearly():
    with pytest.raises(TypeError):
        tdata.default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(TypeError, match=r"default_collate: cannot batch NumPy arrays of "
                                        r"dtype <U1.*collate_fn="):
        zdata.default_collate([np.array(["a"]), np.array(["b"])])
    with pytest.raises(RuntimeError):      # PyTorch's type, and still a ValueError
        zdata.default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError, match=r"different shapes"):
        zdata.default_collate([np.zeros(2), np.zeros(3)])


def _pairs(mod, lib, n=10):
    return mod.TensorDataset(lib.tensor(np.arange(2.0 * n).reshape(n, 2)), lib.arange(n))


@pytest.mark.parametrize("kwargs", [
    dict(batch_size=None, drop_last=True), dict(batch_size=None, batch_sampler=[[0]]),
    dict(prefetch_factor=2), dict(persistent_workers=True), dict(timeout=-1),
    dict(batch_size=2, batch_sampler=[[0]]), dict(shuffle=True, sampler=[0]),
])
def test_dataloader_refuses_what_pytorch_refuses(kwargs):
    with pytest.raises(ValueError):
        tdata.DataLoader(_pairs(tdata, torch), **kwargs)
    with pytest.raises(ValueError, match=r"DataLoader: "):
        zdata.DataLoader(_pairs(zdata, zeroin), **kwargs)


def test_dataloader_worker_arguments_accepted_with_workers():
    kw = dict(batch_size=4, num_workers=2, prefetch_factor=4, persistent_workers=True)
    got = list(zdata.DataLoader(_pairs(zdata, zeroin), **kw))
    assert _desc(got) == _desc(list(tdata.DataLoader(_pairs(tdata, torch), **kw)))


@pytest.mark.parametrize("kwargs", [dict(), dict(shuffle=True), dict(batch_size=3),
                                    dict(batch_size=3, drop_last=True),
                                    dict(batch_sampler=[[0, 1], [4, 5, 6]]),
                                    dict(batch_size=None), dict(sampler=[3, 1, 2])])
def test_dataloader_sampler_attributes_like_pytorch(kwargs):
    z, t = zdata.DataLoader(_pairs(zdata, zeroin), **kwargs), \
        tdata.DataLoader(_pairs(tdata, torch), **kwargs)
    for name in ["sampler", "batch_sampler"]:
        zs, ts = getattr(z, name), getattr(t, name)
        assert type(zs).__name__ == type(ts).__name__
        if ts is not None:
            assert len(zs) == len(ts)
    assert (z.batch_size, z.drop_last, len(z)) == (t.batch_size, t.drop_last, len(t))
    if not kwargs.get("shuffle"):
        assert _desc(_lists(list(z))) == _desc(list(t))
        assert list(z.sampler) == list(t.sampler)


def test_dataloader_dataset_is_the_object_given():
    samples = [(1, 2.0), (3, 4.0), (5, 6.0)]
    assert zdata.DataLoader(samples).dataset is samples
    X = np.zeros((4, 2))
    assert zdata.DataLoader(X).dataset is X
    assert len(zdata.DataLoader((X, np.arange(4))).dataset) == 4      # zeroin's (X, y)


@pytest.mark.parametrize("make, exc", [
    (lambda m: m.RandomSampler(range(5), replacement=1), TypeError),
    (lambda m: m.RandomSampler(range(5), num_samples=0), ValueError),
    (lambda m: m.WeightedRandomSampler([1.0, 1.0], 0), ValueError),
    (lambda m: m.WeightedRandomSampler([1.0, 1.0], 2, replacement=1), ValueError),
    (lambda m: m.BatchSampler(range(7), 2, 1), ValueError),
    (lambda m: m.BatchSampler(range(7), 0, False), ValueError),
])
def test_sampler_argument_errors_like_pytorch(make, exc):
    with pytest.raises(exc):
        make(tdata)
    with pytest.raises(exc, match=r"Sampler: "):
        make(zdata)


def test_samplers_yield_python_ints_and_new_orders():
    for kw in [dict(), dict(num_samples=12), dict(replacement=True, num_samples=7)]:
        got = list(zdata.RandomSampler(range(20), generator=zeroin.Generator().manual_seed(0),
                                       **kw))
        want = list(tdata.RandomSampler(range(20), generator=torch.Generator().manual_seed(0),
                                        **kw))
        assert [type(i) for i in got] == [type(i) for i in want] and len(got) == len(want)
        assert set(got) <= set(range(20))
    counts = collections.Counter(zdata.RandomSampler(range(5), num_samples=12, generator=1))
    assert sorted(counts.values()) == [2, 2, 2, 3, 3]        # whole passes, then a part
    for s in [zdata.RandomSampler(range(30), generator=3),
              zdata.SubsetRandomSampler(list(range(30)), generator=3),
              zdata.WeightedRandomSampler([1.0] * 30, 30, generator=3)]:
        assert list(s) != list(s)          # an int seed starts one stream, not each pass
    w = zdata.WeightedRandomSampler([1, 2], 2).weights
    assert isinstance(w, zeroin.Tensor) and w.dtype == zeroin.float64


@pytest.mark.parametrize("n, lengths", [(10, [0.33, 0.33, 0.34]), (11, [0.5, 0.5]),
                                        (7, [0.1, 0.2, 0.7]), (10, [3, 7])])
def test_random_split_lengths_like_pytorch(n, lengths):
    got = zdata.random_split(range(n), lengths, generator=zeroin.Generator().manual_seed(0))
    want = tdata.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in got] == [len(p) for p in want]
    assert sorted(i for p in got for i in p) == list(range(n))


def test_random_split_refuses_fractions_outside_0_1_and_warns_on_empty_splits():
    with pytest.raises(ValueError):
        tdata.random_split(range(10), [-0.5, 1.5])
    with pytest.raises(ValueError, match=r"random_split: fraction -0.5 at index 0"):
        zdata.random_split(range(10), [-0.5, 1.5])
    with pytest.warns(UserWarning):
        tdata.random_split(range(2), [0.1, 0.1, 0.8])
    with pytest.warns(UserWarning, match=r"random_split: split 1 .* is empty"):
        zdata.random_split(range(2), [0.1, 0.1, 0.8])


def test_subset_gives_the_dataset_python_ints_and_takes_a_list():
    def seen(mod):
        got = []

        class D(mod.Dataset):
            def __len__(self):
                return 5

            def __getitem__(self, i):
                got.append(type(i))
                return i
        s = mod.Subset(D(), [1, 2, 4])
        return s[0], s[-1], got
    assert seen(zdata) == seen(tdata)
    z = zdata.Subset(_pairs(zdata, zeroin), [3, 5, 7])[[0, 2]]
    t = tdata.Subset(_pairs(tdata, torch), [3, 5, 7])[[0, 2]]
    assert _desc(z) == _desc(t)


def _stream(mod, n, with_len=False):
    class S(mod.IterableDataset):
        def __iter__(self):
            return iter([(np.float32(i), i) for i in range(n)])
    if with_len:
        S.__len__ = lambda self: n
    return S()


def test_chain_dataset_and_iterable_plus_like_pytorch():
    def run(mod):
        chain = mod.ChainDataset([_stream(mod, 2), _stream(mod, 3)])
        batches = list(mod.DataLoader(chain, batch_size=2))
        added = list(_stream(mod, 2) + _stream(mod, 1))
        n = len(mod.ChainDataset([_stream(mod, 2, True), _stream(mod, 3, True)]))
        return _desc(batches), _desc(added), n
    assert run(zdata) == run(tdata)
    with pytest.raises(AssertionError):
        tdata.ConcatDataset([_stream(tdata, 2)])
    with pytest.raises(TypeError, match=r"ConcatDataset: S is an IterableDataset.*ChainDataset"):
        zdata.ConcatDataset([_stream(zdata, 2)])


def test_stack_dataset_like_pytorch():
    def run(mod):
        pos = mod.StackDataset(list(range(3)), [4, 5, 6])
        kw = mod.StackDataset(a=np.arange(4.0), b=list(range(4)))
        return len(pos), pos[1], _desc(list(mod.DataLoader(kw, batch_size=3)))
    assert run(zdata) == run(tdata)
    for args, kwargs in [((), {}), (([1],), {"b": [2]}), (([1], [1, 2]), {})]:
        with pytest.raises(ValueError):
            tdata.StackDataset(*args, **kwargs)
        with pytest.raises(ValueError, match=r"StackDataset: "):
            zdata.StackDataset(*args, **kwargs)


def _batched_only(mod, as_tuple=False):
    class D(mod.Dataset):
        """PyTorch's __getitems__: a list of samples for a list of indices."""
        def __len__(self):
            return 5

        def __getitem__(self, i):
            raise AssertionError("the loader should fetch whole batches")

        def __getitems__(self, idx):
            assert isinstance(idx, list) and all(type(i) is int for i in idx)
            got = [{"x": np.full(2, float(i)), "y": i} for i in idx]
            return tuple(got) if as_tuple else got
    return D()


@pytest.mark.parametrize("as_tuple", [False, True])
@pytest.mark.parametrize("kwargs", [{}, {"collate_fn": list}])
def test_pytorch_style_getitems_gives_the_batches(as_tuple, kwargs):
    got = list(zdata.DataLoader(_batched_only(zdata, as_tuple), batch_size=2, **kwargs))
    want = list(tdata.DataLoader(_batched_only(tdata, as_tuple), batch_size=2, **kwargs))
    assert _desc(got) == _desc(want)
    sub = list(zdata.DataLoader(zdata.Subset(_batched_only(zdata), [4, 0]), batch_size=2))
    assert sub[0]["y"].tolist() == [4, 0]


def test_batch_of_tensors_that_require_grad_is_recorded_like_pytorch():
    def run(mod, lib):
        w = lib.ones(3, requires_grad=True)
        samples = [(w * i, i) for i in range(4)]
        xb, yb = next(iter(mod.DataLoader(samples, batch_size=4)))
        xb.sum().backward()
        return xb.requires_grad, yb.requires_grad, w.grad.tolist()
    assert run(zdata, zeroin) == run(tdata, torch) == (True, False, [6.0, 6.0, 6.0])
    plain = next(iter(zdata.DataLoader([(np.ones(2), 1.5)] * 3, batch_size=3)))
    assert not plain[0].requires_grad and not plain[1].requires_grad
    assert plain[1].dtype == zeroin.float64
