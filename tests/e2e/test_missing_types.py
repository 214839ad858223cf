"""A journaled value of a type the reading process cannot import is reported as such.

Issue 12, bug 6: an event holding a class the reader lacked was called "corrupt in the
journal ... restart the run", though the row was fine, and `history()` showed ``None``
for such a value.  Here another process writes values of a module that only it can
import; this process reads them.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

import durable
from durable import errors
from tests.e2e.harness import ROOT, TIMEOUT

PARCELS = """
import dataclasses


@dataclasses.dataclass
class Parcel:
    weight: int


class Box:
    def __init__(self, label):
        self.label = label
"""


def _write(db_url: str, tmp_path: pathlib.Path) -> None:
    modules = tmp_path / "writer_only"
    modules.mkdir()
    (modules / "parcels.py").write_text(PARCELS)
    done = subprocess.run(
        [sys.executable, "-m", "tests.e2e.parcels_writer", "--db", db_url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(modules)])},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "shipped"), done.stderr


@pytest.mark.parametrize(("key", "type_name"), [("parcel", "Parcel"), ("box", "Box")])
async def test_event_of_a_type_this_process_lacks(
    db_url: str, tmp_path: pathlib.Path, key: str, type_name: str
) -> None:
    _write(db_url, tmp_path)
    async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
        with pytest.raises(errors.SerializationError) as raised:
            await engine.get_event("ship", key)
    error = raised.value
    assert not isinstance(error, errors.JournalError)
    assert (error.module, error.type_name) == ("parcels", type_name)  # type: ignore[attr-defined]
    message = str(error)
    assert "corrupt" not in message
    assert f"parcels.{type_name}" in message and "import" in message


async def test_history_describes_values_it_cannot_decode(
    db_url: str, tmp_path: pathlib.Path
) -> None:
    _write(db_url, tmp_path)
    async with durable.Engine(db_url, execute=False, poll_interval=0) as engine:
        history = await engine.history("ship")
    shown = {(entry.kind, entry.name): entry.output for entry in history}
    for key, type_name in [
        (("step", "e2e.parcels.pack"), "Parcel"),
        (("event", "parcel"), "Parcel"),
        (("step", "e2e.parcels.box"), "Box"),
        (("event", "box"), "Box"),
    ]:
        assert shown[key] is not None, f"{key}: its value shows as None"
        assert f"parcels.{type_name}" in repr(shown[key]), shown[key]
