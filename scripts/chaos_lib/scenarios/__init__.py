"""The scenario registry: each scenario is a function `run(ctx) -> figures` that raises Fail or Skip."""
from __future__ import annotations


class Scenario:
    def __init__(self, name, run, quick, summary):
        self.name = name
        self.run = run
        self.quick = quick
        self.summary = summary


REGISTRY: list[Scenario] = []


def scenario(name, quick, summary):
    """Registers a scenario; `quick` ones make up `scripts/chaos --quick`."""
    def register(function):
        REGISTRY.append(Scenario(name, function, quick, summary))
        return function
    return register


from . import intake, security, loader  # noqa: E402,F401  (registration order is the run order)
