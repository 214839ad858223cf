"""Fixtures of the journal tests: `journal`, an open journal of the test's backend."""

from __future__ import annotations

from tests.journal.test_conformance import journal  # noqa: F401  (the fixture)
