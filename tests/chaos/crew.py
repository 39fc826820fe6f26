"""A supervisor of worker processes for the chaos tests: start, kill -9, SIGSTOP/SIGCONT, and restart
what died (as systemd or docker's ``restart: unless-stopped`` would), counting every event."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from subprocess import Popen

from streams.binding.workers import log_tail, worker


@dataclass
class Crew:
    groups: Sequence[Sequence[str]]
    namespace: str
    config: Path
    logdir: Path
    env: dict[str, str]
    args: Sequence[str] = ()
    procs: list[Popen[bytes]] = field(default_factory=list)
    starts: int = 0
    kills: int = 0
    exits: list[tuple[int, int | None]] = field(default_factory=list)
    """(worker index, exit status) of every exit the supervisor did not cause."""
    _stacks: list[ExitStack] = field(default_factory=list)
    _logs: list[Path] = field(default_factory=list)

    def __enter__(self) -> Crew:
        n = len(self.groups)
        self._stacks = [ExitStack() for _ in range(n)]
        self._logs = [self.logdir / "none"] * n
        self.procs = [self._start(i) for i in range(n)]
        return self

    def __exit__(self, *exc: object) -> None:
        for s in self._stacks:
            s.close()

    def _start(self, i: int) -> Popen[bytes]:
        self.starts += 1
        log = self.logdir / f"worker{i}-{self.starts}.log"
        self._logs[i] = log
        stack = ExitStack()
        self._stacks[i] = stack
        return stack.enter_context(
            worker(self.groups[i], self.namespace, self.config, log, self.env, self.args)
        )

    def kill(self, i: int) -> None:
        """SIGKILL worker ``i`` (no shutdown, no final commit) and start it again."""
        p = self.procs[i]
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            p.wait(30)
        self.kills += 1
        self._stacks[i].close()
        self.procs[i] = self._start(i)

    def revive(self) -> None:
        """Start again every worker that exited by itself (recording its status)."""
        for i, p in enumerate(self.procs):
            if p.poll() is not None:
                self.exits.append((i, p.returncode))
                self._stacks[i].close()
                self.procs[i] = self._start(i)

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def tail(self, i: int, lines: int = 30) -> str:
        return log_tail(self._logs[i], lines)
