"""Processes and ownership: who holds which run, and how dead holders are detected."""

from __future__ import annotations
