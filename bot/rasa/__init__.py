"""Talking to the Rasa server: the HTTP client, tracker events, responses, the shopper/agent gateway, retraining."""
