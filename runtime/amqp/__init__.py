"""The AMQP edge: the only package (with ``_fastpath``) that imports pika.

pika's exceptions are translated into ``mqwire`` errors here, as Dramatiq's broker does.
"""
