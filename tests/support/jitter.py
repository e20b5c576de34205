"""Randomness a test can compute with."""

from __future__ import annotations

import random


class FixedJitter(random.Random):
    """A jitter source that always draws ``value``: backoffs a test can compute."""

    def __init__(self, value: float) -> None:
        super().__init__(0)
        self.value = value

    def random(self) -> float:
        return self.value
