"""The chaos suite: a run of notices through the hub on its own PostgreSQL and RabbitMQ while processes are
SIGKILLed, the broker and the database restart, a recipient is down for a simulated 48 hours and a drop folder's
disk is full; then every notice is accounted for. ``python -m chaos`` (``make chaos``); docs/security-chaos.md."""
