"""Hypothesis profiles for the property suite, and its end-of-session summary.

``HYPOTHESIS_PROFILE=ci`` (the default) is derandomized and bounded so the whole suite
stays within a few minutes on a 2-core machine; ``thorough`` runs many more examples.
Every example builds its own engine on a fresh database: hypothesis does not reset
function-scoped fixtures between examples.
"""

from __future__ import annotations

import contextlib
import os
import warnings

import pytest
from hypothesis import HealthCheck, settings

from property_tests.stats import summary
from tests.postgres import postgres_cluster, postgres_server  # noqa: F401  (fixtures)

# Hypothesis imports libcst when it reports a failure, and libcst's import raises a
# DeprecationWarning (mypy_extensions.TypedDict) that `filterwarnings = ["error"]` turns into
# an INTERNALERROR hiding the failure itself: import it once here, warnings silenced.
with warnings.catch_warnings(), contextlib.suppress(ImportError):
    warnings.simplefilter("ignore")
    import hypothesis.extra._patching  # noqa: F401

_COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    "print_blob": True,
}
settings.register_profile("ci", derandomize=True, max_examples=25, **_COMMON)
settings.register_profile("thorough", max_examples=400, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def scaled(ci: int) -> int:
    """`ci` examples under the ci profile, proportionally more under the others."""
    return max(1, ci * settings.default.max_examples // 25)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Property tests run many examples: bound them per profile, not by the 120 s default."""
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    for item in items:
        item.add_marker(pytest.mark.timeout(300 if profile == "ci" else 0))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    lines = summary()
    if lines:
        profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
        terminalreporter.write_sep("-", f"property suite exercised (profile {profile})")
        for line in lines:
            terminalreporter.write_line(line)
