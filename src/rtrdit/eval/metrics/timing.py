"""Time: wall-clock minutes to stylize one clip (the paper: 0.12 min for a 5 s, 832x640, 24 fps
clip on one H20). The seconds are measured by ``rtrdit eval benchmark`` or given in ``--list``."""

from __future__ import annotations

from rtrdit.eval.metrics.base import Chunk, Conditions, EvalError, MetricContext, MetricResult


class _Acc:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def update(self, chunk: Chunk) -> None:
        pass

    def result(self) -> MetricResult:
        return MetricResult(value=self.seconds / 60.0)


class Time:
    name = "time"
    label = "Time(min)"
    needs = frozenset({"seconds"})
    higher_is_better = False

    def __init__(self, ctx: MetricContext) -> None:
        self.ctx = ctx

    def start(self, conditions: Conditions) -> _Acc:
        if conditions.seconds is None:
            raise EvalError(f"time needs the stylization time of {conditions.name} "
                            "('seconds' in --list, or run `rtrdit eval benchmark`)")
        return _Acc(float(conditions.seconds))


METRIC = Time
