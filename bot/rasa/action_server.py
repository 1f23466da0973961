"""The action server as `make run` starts it (`python -m bot.rasa.action_server --actions actions
...`): rasa_sdk's own command line, with the garbage collector settled (bot/garbage.py) once
the actions are loaded."""
import rasa_sdk.__main__
import rasa_sdk.endpoint

from bot import garbage

_create_app = rasa_sdk.endpoint.create_app


def create_app(*args, **kwargs):
    """rasa_sdk's app, with the actions imported; then what is loaded out of the collector's walks."""
    app = _create_app(*args, **kwargs)
    garbage.settle()
    return app


if __name__ == "__main__":
    rasa_sdk.endpoint.create_app = create_app
    rasa_sdk.__main__.main()
