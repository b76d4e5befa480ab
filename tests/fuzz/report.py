"""Tallies of fuzz results: counts per category and the distinct failures, each with the
first (simplest) case that showed it, so a test can fail with a readable list and the
soak script can print a table."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

from .runner import Outcome

# Counters every category may bump; the soak table prints them as columns.
COUNTERS = ("escapes", "over_bound", "wrong_values", "lost", "resurrected", "temp_left", "torn")


@dataclass
class Failure:
    problem: str
    outcome: Outcome
    case: str
    count: int = 1

    def describe(self) -> str:
        o = self.outcome
        lines = [f"{self.problem} ({self.count} case{'s' if self.count > 1 else ''}): "]
        lines[0] += o.headline()
        if o.step:
            lines.append(f"    step: {o.step}")
        if o.where or o.raised_at:
            lines.append(f"    at {o.where or '-'} (raised at {o.raised_at or '-'})")
        if o.chain:
            lines.append(f"    chain: {' <- '.join(o.chain)[:300]}")
        lines.append(f"    first case: {self.case[:600]}")
        return "\n".join(lines)


@dataclass
class Tally:
    category: str
    cases: int = 0
    passed: int = 0
    counters: Counter = field(default_factory=Counter)
    error_kinds: Counter = field(default_factory=Counter)
    failures: dict[tuple, Failure] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    wall_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    max_hangs: int = 3

    def record(self, case: str, problems: list[tuple[str, Outcome]]) -> None:
        """One case: passed when ``problems`` is empty, else each (problem, outcome)."""
        self.cases += 1
        if not problems:
            self.passed += 1
        seen = set()
        for problem, outcome in problems:
            key = self._key(problem, outcome)
            if key not in seen:  # the same failure in several steps of a case: once
                seen.add(key)
                self.fail(problem, outcome, case)
        self.wall_s = time.monotonic() - self.started

    def fail(self, problem: str, outcome: Outcome, case: str) -> None:
        if outcome.failed:
            self.error_kinds[outcome.error or outcome.kind] += 1
        key = self._key(problem, outcome)
        if key in self.failures:
            self.failures[key].count += 1
        else:
            self.failures[key] = Failure(problem, outcome, case)

    @staticmethod
    def _key(problem: str, outcome: Outcome) -> tuple:
        return (problem, outcome.kind, outcome.error, outcome.where or outcome.raised_at)

    def count(self, counter: str, n: int = 1) -> None:
        assert counter in COUNTERS, counter
        self.counters[counter] += n

    def too_many_hangs(self) -> bool:
        """Whether to stop: every hang costs a whole timeout, and one hang is enough to
        show the bug."""
        hangs = self.error_kinds["hang"]
        if hangs >= self.max_hangs:
            note = f"stopped after {hangs} hangs"
            if note not in self.notes:
                self.notes.append(note)
            return True
        return False

    @property
    def failed_cases(self) -> int:
        return self.cases - self.passed

    def report(self, limit: int = 25) -> str:
        head = f"{self.category}: {self.failed_cases} of {self.cases} cases failed"
        counts = ", ".join(f"{k} {v}" for k, v in sorted(self.counters.items()) if v)
        lines = [head + (f" ({counts})" if counts else "")]
        lines += [f"  note: {n}" for n in self.notes]
        found = sorted(self.failures.values(), key=lambda f: -f.count)
        lines += [f.describe() for f in found[:limit]]
        if len(found) > limit:
            lines.append(f"... and {len(found) - limit} more distinct failures")
        return "\n".join(lines)

    def assert_clean(self) -> None:
        assert not self.failures, "\n" + self.report()


def non_zarr_errors(outcomes: list[Outcome]) -> list[tuple[str, Outcome]]:
    """The problems of a case whose only rule is: succeed or raise a ZarrError."""
    return [(_problem_name(o), o) for o in outcomes if o.failed]


def _problem_name(outcome: Outcome) -> str:
    return {
        "error": "non-ZarrError exception",
        "memory": "memory past the limit",
        "hang": "hang (timeout)",
        "crash": "child process died",
    }[outcome.kind]


def steps_of(outcome: Outcome) -> list[Outcome]:
    """A case function returns the outcomes of its steps; a case that failed as a whole
    (hang, crash, an exception outside any step) is one outcome."""
    if outcome.kind == "ok" and isinstance(outcome.value, list):
        return outcome.value
    return [outcome]
