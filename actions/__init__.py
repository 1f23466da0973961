"""Rasa custom actions, one module per domain; served by `python -m rasa_sdk --actions actions`."""
