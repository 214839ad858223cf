"""examples/http_service.py runs as documented: a service with its own route and
durable's API mounted beside it."""

from __future__ import annotations

import subprocess
import sys

from tests.http.conftest import ROOT, _env


def test_http_service_example(tmp_path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "http_service.py")],
        cwd=tmp_path,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "placed: {'run': 'order-1', 'result': '/durable/api/runs/order-1/result'}",
        "result: {'order': 'order-1', 'total': 12.0}",
        "steps: ['shop.price', 'shop.price']",
    ]
    assert "Traceback" not in done.stderr
