"""The replay layer: runs workflow code against its journal.  Knows nothing of SQL."""

from __future__ import annotations
