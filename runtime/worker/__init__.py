"""The worker: consuming, running tasks, settling deliveries, and the ``mserve`` CLI."""
