"""Publishing: the ``Publisher`` protocol, batches, and the AMQP and local transports."""
