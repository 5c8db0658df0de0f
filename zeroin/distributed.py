"""PyTorch's ``torch.distributed`` for the code paths a one-process run takes.

zeroin has no communication backend, so ``is_available()`` is False and torch code guarded
by it runs its single-process branch. Unguarded code still runs in one process: the default
process group can be initialised with ``world_size=1`` (rank 0), after which the
collectives are what they are over one process (``all_reduce`` leaves the tensor as it is,
``all_gather`` fills the one slot...). Without ``init_process_group`` they raise PyTorch's
ValueError; a world size above 1 is refused."""
import enum
import os

__all__ = ["is_available", "is_initialized", "is_torchelastic_launched", "init_process_group",
           "destroy_process_group", "get_rank", "get_world_size", "get_backend", "barrier",
           "all_reduce", "reduce", "broadcast", "all_gather", "all_gather_object",
           "broadcast_object_list", "ReduceOp", "group", "GroupMember"]

_NOT_INIT = ("Default process group has not been initialized, please make sure to call "
             "init_process_group.")
_state = {"backend": None}


class ReduceOp(enum.Enum):
    """The reductions of ``all_reduce``/``reduce`` (all the same over one process)."""
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8


class GroupMember:
    """PyTorch's names for groups: ``WORLD`` (the default group is passed as None)."""
    WORLD = None
    NON_GROUP_MEMBER = -100


group = GroupMember


class _Work:
    """What ``async_op=True`` returns: the operation is done already."""

    def wait(self, timeout=None):
        return True

    def is_completed(self):
        return True


def is_available():
    """False: zeroin has no communication backend (one process only)."""
    return False


def is_initialized():
    """Whether :func:`init_process_group` made the (one-process) default group."""
    return _state["backend"] is not None


def is_torchelastic_launched():
    """Whether this process was started by torchrun / torchelastic (its environment)."""
    return os.getenv("TORCHELASTIC_RUN_ID") is not None


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1,
                       store=None, group_name="", pg_options=None, device_id=None):
    """Make the default group of this one process: ``world_size`` must be 1 and ``rank`` 0
    (-1: read ``WORLD_SIZE``/``RANK`` from the environment, as torchrun sets them)."""
    if is_initialized():
        raise ValueError("trying to initialize the default process group twice!")
    ws = int(os.environ.get("WORLD_SIZE", 1)) if world_size == -1 else world_size
    rk = int(os.environ.get("RANK", 0)) if rank == -1 else rank
    if ws != 1 or rk != 0:
        raise RuntimeError(f"init_process_group: zeroin runs in one process and has no "
                           f"communication backend, so only world_size=1, rank=0 is "
                           f"possible (got world_size={ws}, rank={rk}); run one process "
                           f"(without torchrun), or use PyTorch for multi-process training")
    _state["backend"] = str(backend) if backend is not None else "gloo"


def destroy_process_group(group=None):
    """Forget the default group (:func:`is_initialized` is False again)."""
    _state["backend"] = None


def _check():
    if not is_initialized():
        raise ValueError(_NOT_INIT)


def get_rank(group=None):
    """0: the rank of this one process (ValueError before :func:`init_process_group`)."""
    _check()
    return 0


def get_world_size(group=None):
    """1: one process (ValueError before :func:`init_process_group`)."""
    _check()
    return 1


def get_backend(group=None):
    """The backend name given to :func:`init_process_group` ('gloo' if none)."""
    _check()
    return _state["backend"]


def _done(async_op):
    return _Work() if async_op else None


def barrier(group=None, async_op=False, device_ids=None, timeout=None):
    """Nothing to wait for in one process."""
    _check()
    return _done(async_op)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Any reduction over one process leaves ``tensor`` as it is."""
    _check()
    return _done(async_op)


def reduce(tensor, dst=None, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """As :func:`all_reduce`: ``tensor`` unchanged."""
    _check()
    return _done(async_op)


def broadcast(tensor, src=None, group=None, async_op=False, group_src=None):
    """Rank 0 sends to itself: ``tensor`` unchanged."""
    _check()
    return _done(async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """Copy ``tensor`` into the one slot of ``tensor_list`` (its length must be 1)."""
    _check()
    if len(tensor_list) != 1:
        raise ValueError(f"all_gather: tensor_list must have one tensor per process (1), "
                         f"got {len(tensor_list)}")
    tensor_list[0].copy_(tensor)
    return _done(async_op)


def all_gather_object(object_list, obj, group=None):
    """``object_list[0] = obj`` (its length must be 1, the world size)."""
    _check()
    if len(object_list) != 1:
        raise ValueError(f"all_gather_object: object_list must have one slot per process "
                         f"(1), got {len(object_list)}")
    object_list[0] = obj


def broadcast_object_list(object_list, src=None, group=None, device=None, group_src=None):
    """Rank 0 sends to itself: ``object_list`` unchanged."""
    _check()
