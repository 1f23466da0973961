"""The Rasa server as `make run` starts it (`python -m bot.rasa.server run ...`): Rasa's own
command line, with two of Rasa 3.6's per-message costs removed. Both were found with py-spy on
the Rasa server under `make benchmark-load`; neither changes what Rasa does.

- Every action server response is checked with `jsonschema.validate`, which first checks the
  schema itself against its meta-schema, every call: a quarter of the server's CPU. The same
  check here uses a validator built once.
- Every event read from the tracker store finds its class by walking all of Event's subclasses
  (`Event.resolve_by_type`): about 6%. Here each name is looked up once.
"""
import functools
import sys
from typing import Any, Dict, Optional, Text, Type

import jsonschema
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event


@functools.lru_cache(maxsize=None)
def _action_response_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    return jsonschema.validators.validator_for(schema)(schema)


def validate_action_result(self: RemoteAction, result: Dict[Text, Any]) -> bool:
    """RemoteAction._validate_action_result, with the validator built once (and the same error
    as jsonschema.validate picks)."""
    error = jsonschema.exceptions.best_match(_action_response_validator().iter_errors(result))
    if error is None:
        return True
    error.message += (
        ". Failed to validate Action server response from API, make sure your response from the "
        f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
    )
    raise error


_resolve_event_type = Event.resolve_by_type
_event_types: Dict[Text, Type[Event]] = {}


def resolve_event_type(type_name: Text, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """Event.resolve_by_type, remembering each class found (unknown names are not remembered)."""
    found = _event_types.get(type_name)
    if found is None:
        found = _resolve_event_type(type_name, default)
        if found is not None and found is not default:
            _event_types[type_name] = found
    return found


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_type)


if __name__ == "__main__":
    install()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    sys.exit(main())
