"""Talking to the Rasa server: the HTTP client, responses, the shopper/agent gateway, retraining."""
