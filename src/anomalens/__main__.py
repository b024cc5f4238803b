"""``python -m anomalens`` = the ``anomalens`` command (useful with ``PYTHONPATH=src``)."""

from .cli import main

main()
