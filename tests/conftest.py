"""Test settings shared by every module."""

import builtins
import os

import pytest

from hypothesis import HealthCheck, settings

# In CI the property tests draw the same examples every run (derandomised), so a failure
# there is reproducible; locally they explore new examples each time.  .ci/run sets
# NNCTL_HYPOTHESIS_PROFILE=ci itself, so CI does not depend on its runner's CI variable.
settings.register_profile("ci", derandomize=True, max_examples=60, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("NNCTL_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def no_matplotlib(monkeypatch):
    """Imports of matplotlib fail, as when the plot extra is not installed."""
    real_import = builtins.__import__

    def refuse(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", refuse)
