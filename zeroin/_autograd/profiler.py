"""``zeroin.autograd.profiler``: PyTorch's older profiler API on :mod:`zeroin.profiler`'s
timing (the same events: ``zeroin::<op>`` forwards, ``<Name>Backward0`` rules)."""
from __future__ import annotations

from ..profiler import (EventList, FunctionEvent, FunctionEventAvg, _Profile,  # noqa: F401
                        record_function)

__all__ = ["profile", "record_function", "EventList", "FunctionEvent", "FunctionEventAvg"]


class profile(_Profile):
    """``with zeroin.autograd.profiler.profile() as prof:`` times every op inside;
    afterwards ``prof.table(sort_by=...)`` lists each call, ``prof.key_averages()`` one row
    per name, ``prof.function_events`` the events. ``enabled=False`` records nothing (and
    ``as`` gives None, as in PyTorch); the
    device and detail options are accepted and unused (zeroin runs on the CPU)."""

    def __init__(self, enabled=True, *, use_cuda=False, use_device=None,
                 record_shapes=False, with_flops=False, profile_memory=False,
                 with_stack=False, with_modules=False, use_kineto=False, use_cpu=True,
                 experimental_config=None, acc_events=False, custom_trace_id_callback=None,
                 post_processing_timeout_s=None, activity_filters=None):
        self.enabled = enabled
        self._rec = self._events = None

    def __enter__(self):
        if not self.enabled:
            return None         # as PyTorch's: `with profile(enabled=False) as p` gives None
        self._begin()
        return self

    def __exit__(self, *exc):
        if self._rec is not None:
            self._end()
        return False

    @property
    def function_events(self):
        return self._events

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75,
              max_name_column_width=55, max_shapes_column_width=80, header=None,
              top_level_events_only=False):
        """Every call as a row (``key_averages().table(...)`` for one row per name)."""
        return self._finished().table(sort_by, row_limit,
                                      max_name_column_width=max_name_column_width,
                                      header=header,
                                      top_level_events_only=top_level_events_only)

    def total_average(self):
        return self._finished().total_average()

    @property
    def self_cpu_time_total(self):
        return self._finished().self_cpu_time_total
