"""``python -m bench``: mqwire measured against the raw pika ceiling and its peers, in one run.

Every measurement runs in its own throw-away RabbitMQ vhost, on durable queues with persistent
~100-byte JSON messages, and is repeated (median and min-max reported). The sections:

- ``consume``: N pre-published messages drained by the raw pika ceiling, ``mserve`` (plain and
  ``async def`` no-op tasks) and, when installed, Celery and Dramatiq (``consume.py``);
- ``publish``: mqwire's confirmed ``publish()`` and ``batch()`` against raw pika with
  per-message and pipelined confirms, and the peers' confirmed publishing (``publish.py``);
- ``latency``: publish-to-task-start at a steady rate, mserve against the ceiling
  (``latency.py``);
- ``compile``: ``mq-compile`` time on generated topologies and ``mserve`` start-up time and
  memory on the ticketing example (``compile_time.py``).

``report.py`` turns the results into a table with the ratios and the targets of issue 5.
"""
