"""How long a boolean condition has held, with time hysteresis on its end (every rule's clock)."""

from __future__ import annotations


class Condition:
    """``update`` returns the (start, end) of a spell that just ended; ``end`` is the time the
    condition first went false, not the time the end was confirmed ``clear_s`` later."""

    def __init__(self, clear_s: float) -> None:
        self.clear_s = clear_s
        self.since: float | None = None
        self._false_since: float | None = None

    @property
    def holding(self) -> bool:
        return self.since is not None

    def held_for(self, t: float) -> float:
        if self.since is None:
            return 0.0
        return (self._false_since if self._false_since is not None else t) - self.since

    def update(self, t: float, value: bool) -> tuple[float, float] | None:
        if value:
            if self.since is None:
                self.since = t
            self._false_since = None
            return None
        if self.since is None:
            return None
        if self._false_since is None:
            self._false_since = t
        if t - self._false_since >= self.clear_s:
            spell = (self.since, self._false_since)
            self.since = self._false_since = None
            return spell
        return None

    def flush(self, t: float) -> tuple[float, float] | None:
        """End any spell at stream end."""
        if self.since is None:
            return None
        spell = (self.since, self._false_since if self._false_since is not None else t)
        self.since = self._false_since = None
        return spell
