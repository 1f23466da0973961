"""Understanding shoppers: the spaCy pipeline and the custom Rasa NLU components (loaded by Rasa)."""
