"""Event sources: runs started by records, exactly once.

``@durable.workflow(on=source)`` makes every executing engine (and ``durable worker``)
that imported the workflow consume `source`: `durable.Topic` (the journal's own
topic), `RedisStream` (Redis Streams, consumer groups), `JetStream` (NATS JetStream,
a durable pull consumer) or `Objects` (a folder or an S3 bucket, via fsspec).  The
run id is derived from the record's identity and a broker acknowledgement is sent
only after the run's creation committed, so a record redelivered after a crash finds
its run.  The broker clients are optional: ``pip install 'durable[sources]'``.
"""

from __future__ import annotations

from durable.sources.base import Context, DeadLetter, Record, Source, Tuning
from durable.sources.jetstream import JetStream
from durable.sources.objects import Objects
from durable.sources.redis_stream import RedisStream
from durable.sources.topic import Topic

__all__ = [
    "Context",
    "DeadLetter",
    "JetStream",
    "Objects",
    "Record",
    "RedisStream",
    "Source",
    "Topic",
    "Tuning",
]
