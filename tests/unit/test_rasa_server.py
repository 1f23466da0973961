"""bot/rasa/server.py: the two replaced Rasa functions behave as Rasa's own."""
import jsonschema
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from bot.rasa import server


def test_a_valid_action_server_response_passes():
    response = {"events": [{"event": "slot", "name": "order_number", "value": "100004"}], "responses": [{"response": "utter_greet"}]}
    assert server.validate_action_result(None, response) is True


@pytest.mark.parametrize("response", [{"events": [{"name": "no event type"}]}, {"events": "not a list"}, {"events": [{"event": 5}]}])
def test_an_invalid_action_server_response_is_refused_with_rasas_message(response):
    with pytest.raises(jsonschema.ValidationError) as refused:
        RemoteAction("action_answer_order_question", None)._validate_action_result(response)  # Rasa's own
    with pytest.raises(jsonschema.ValidationError) as ours:
        server.validate_action_result(None, response)
    assert ours.value.message == refused.value.message and "Failed to validate Action server response" in ours.value.message


def test_event_types_resolve_to_rasas_classes():
    for cls in all_subclasses(Event):
        assert server.resolve_event_type(cls.type_name) is Event.resolve_by_type(cls.type_name)
    assert server.resolve_event_type("user") is UserUttered and server.resolve_event_type("bot") is BotUttered
    assert server.resolve_event_type("slot") is SlotSet and server.resolve_event_type("action") is ActionExecuted
    assert server.resolve_event_type("topic") is None
    assert server.resolve_event_type("no-such-event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError):
        server.resolve_event_type("no-such-event")


def test_rasa_servers_take_a_token_that_starts_with_a_dash():
    from rasa.__main__ import create_argument_parser

    from bot.config import Config
    from bot.run import commands

    token = "-Xy3_secret"  # secrets.token_urlsafe starts with "-" one time in 64
    command = commands(Config(database_url="sqlite://", rasa_port=5005, rasa_token=token, rasa_servers=2))["rasa-2"]
    assert command[1:4] == ["-m", "bot.rasa.server", "run"]
    args = create_argument_parser().parse_args(command[3:])
    assert args.auth_token == token and args.port == 5006
