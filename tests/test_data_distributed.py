"""utils.data.DistributedSampler against PyTorch's: the same indices per rank, epoch, seed,
shuffle and drop_last, and the same errors."""
import numpy as np
import pytest

import zeroin
from zeroin.utils.data import DataLoader, DistributedSampler, TensorDataset

torch = pytest.importorskip("torch")
TD = torch.utils.data


@pytest.mark.parametrize("n", [0, 1, 7, 10, 64, 1001])
@pytest.mark.parametrize("replicas", [1, 3, 4])
@pytest.mark.parametrize("shuffle, drop_last", [(True, False), (False, False), (True, True),
                                                (False, True)])
def test_indices_are_torchs_for_every_rank_and_epoch(n, replicas, shuffle, drop_last):
    data = list(range(n))
    for rank in range(replicas):
        for seed in (0, 41):
            ours = DistributedSampler(data, replicas, rank, shuffle, seed, drop_last)
            theirs = TD.DistributedSampler(data, replicas, rank, shuffle, seed, drop_last)
            assert (len(ours), ours.num_samples, ours.total_size) == \
                (len(theirs), theirs.num_samples, theirs.total_size)
            for epoch in (0, 1, 5):
                ours.set_epoch(epoch)
                theirs.set_epoch(epoch)
                got = list(ours)
                assert got == list(theirs)
                assert all(type(i) is int for i in got)


def test_replicas_cover_the_dataset_and_epochs_reshuffle():
    data = list(range(10))
    parts = [list(DistributedSampler(data, num_replicas=3, rank=r)) for r in range(3)]
    assert set(sum(parts, [])) == set(data)      # 12 slots: two indices read twice
    assert [len(p) for p in parts] == [4, 4, 4]
    s = DistributedSampler(data, num_replicas=1, rank=0)
    first = list(s)
    assert list(s) == first                 # same epoch: same order
    s.set_epoch(1)
    assert list(s) != first and sorted(s) == data


def test_large_dataset_order_is_torchs():
    ours = DistributedSampler(range(300_000), num_replicas=2, rank=1, seed=3)
    theirs = TD.DistributedSampler(range(300_000), num_replicas=2, rank=1, seed=3)
    assert list(ours) == list(theirs)


def test_a_data_loader_reads_the_ranks_slice():
    x = zeroin.arange(12).reshape(6, 2)
    ds = TensorDataset(x)
    s = DistributedSampler(ds, num_replicas=2, rank=1, shuffle=False)
    (batch,) = next(iter(DataLoader(ds, batch_size=3, sampler=s)))
    np.testing.assert_array_equal(batch.data, x.data[[1, 3, 5]])


def test_without_a_process_group_or_with_a_bad_rank_errors_as_torch():
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        TD.DistributedSampler(range(4))
    with pytest.raises(ValueError, match="Default process group has not been initialized.*"
                                         "num_replicas and rank"):
        DistributedSampler(range(4))
    with pytest.raises(ValueError, match="Default process group"):
        DistributedSampler(range(4), num_replicas=2)
    for rank in (2, -1):
        with pytest.raises(ValueError) as theirs:
            TD.DistributedSampler(range(4), num_replicas=2, rank=rank)
        with pytest.raises(ValueError) as ours:
            DistributedSampler(range(4), num_replicas=2, rank=rank)
        assert str(ours.value) == str(theirs.value)
