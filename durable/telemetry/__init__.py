"""OpenTelemetry traces, metrics and log correlation for durable runs (extra ``otel``).

Off by default: an engine made with ``telemetry=True`` (the global tracer and meter
providers) or ``telemetry=durable.telemetry.Config(...)`` (providers of its own) reports
what it executes.  Only then is OpenTelemetry imported (`durable.telemetry.otel`); this
module itself imports none of it.

What is reported (see the README's "Telemetry" section):

- the starter's trace context, kept with the run as ``metadata["traceparent"]`` when it
  starts inside a span (or given there explicitly), and continued by whichever process
  executes the run;
- a span per run segment, per step attempt and per other durable call (child, send,
  recv, sleep, race, timeout, event); replayed calls emit nothing, and span ids are
  derived from the run id, call number and attempt (`durable.telemetry.ids`);
- the metrics listed in `durable.telemetry.metrics`;
- ``trace_id`` and ``span_id`` on the log records of durable's own loggers.

Code that triggers runs (schedules, event sources) reports its delays with
`schedule_fired` and `source_lag`, which do nothing when telemetry is off.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from durable import errors

if TYPE_CHECKING:
    from durable.engine import Engine
    from durable.telemetry.otel import Telemetry

__all__ = ["VERSION", "Config", "schedule_fired", "source_lag"]

VERSION = "0.1.0"


@dataclass(frozen=True)
class Config:
    """Telemetry settings of an engine: ``durable.Engine(url, telemetry=Config(...))``.

    Parameters
    ----------
    tracer_provider, meter_provider:
        OpenTelemetry providers to report to; None takes the global ones
        (``opentelemetry.trace.get_tracer_provider()`` and its metrics twin) when the
        engine opens.
    queue_depth_interval:
        Seconds between the engine's counts of the runs waiting to be claimed
        (``durable.queue.depth``); 0 counts only when `Telemetry.refresh_queue_depth`
        is called.
    queue_depth_limit:
        Waiting runs counted at most per look.

    Examples
    --------
    >>> Config(queue_depth_interval=0).queue_depth_limit
    10000
    """

    tracer_provider: Any = None
    meter_provider: Any = None
    queue_depth_interval: float = 15.0
    queue_depth_limit: int = 10_000


def config_of(option: object) -> Config | None:
    """The `Config` an engine's ``telemetry=`` option stands for (None: off)."""
    if option is None or option is False:
        return None
    if option is True:
        return Config()
    if isinstance(option, Config):
        return option
    raise TypeError(
        f"Engine(telemetry=...) takes True, False or a durable.telemetry.Config, "
        f"not {type(option).__name__}"
    )


def enable(config: Config, codec: Any) -> Telemetry:
    """The telemetry of an engine (imports OpenTelemetry)."""
    try:
        from durable.telemetry import otel
    except ImportError as exc:
        raise errors.DurableError(
            f"Engine(telemetry=...) needs OpenTelemetry ({exc}); install it with "
            "`pip install 'durable[otel]'`, or make the engine without telemetry"
        ) from exc
    return otel.Telemetry(config, codec)


def schedule_fired(engine: Engine, schedule_id: str, delay: float) -> None:
    """Report that a tick of schedule `schedule_id` started its run `delay` seconds after
    the tick's time (``durable.schedule.delay``); nothing when telemetry is off."""
    hooks = engine.scheduler.hooks
    if hooks is not None:
        hooks.schedule_fired(schedule_id, delay)


def source_lag(engine: Engine, source: str, lag: float) -> None:
    """Report that a record of event source `source` started its run `lag` seconds
    after its publication (``durable.source.lag``); nothing when telemetry is off."""
    hooks = engine.scheduler.hooks
    if hooks is not None:
        hooks.source_lag(source, lag)
