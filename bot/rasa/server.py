"""The Rasa server as `make run` starts it (`python -m bot.rasa.server run ...`): Rasa's own
command line, with five of Rasa 3.6's per-message costs removed. All were found with py-spy on
the Rasa server under `make benchmark-load`; none changes what Rasa does.

- Every action server response is checked with `jsonschema.validate`, which first checks the
  schema itself against its meta-schema, every call: a quarter of the server's CPU. The same
  check here uses a validator built once.
- Every event read from the tracker store finds its class by walking all of Event's subclasses
  (`Event.resolve_by_type`): about 6%. Here each name is looked up once.
- TEDPolicy runs its TensorFlow model for every prediction, several a message: a fifth of the
  server's CPU. Its prediction depends only on the dialogue states it reads (the last
  `max_history` turns: intents, entities, slots, actions, forms), and conversations pass through
  the same states again and again; here each prediction is remembered by those states.
- Each policy, for each prediction, replays the whole conversation to find its dialogue states
  (`DialogueStateTracker.past_states`), three policies and several predictions a message. Here a
  tracker works them out once for each number of events it has.
- Each call of the action server opens a new HTTP session, and so a new connection
  (`EndpointConfig.request`), and writes the whole tracker with the standard `json` module. Here
  an endpoint keeps one session, whose requests reuse their connections and write with `ujson`
  (one of Rasa's own dependencies), several times faster.
"""
import contextlib
import functools
import sys
from collections import OrderedDict
from typing import Any, Dict, Hashable, List, Optional, Text, Type

import aiohttp
import jsonschema
import ujson
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig


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


_ted_predict = TEDPolicy.predict_action_probabilities
# Predictions each TED model remembers, the least recently used forgotten first.
TED_PREDICTIONS_REMEMBERED = 20_000


def frozen_states(states: List[State]) -> Hashable:
    """Dialogue states as a dictionary key (their values are strings and tuples)."""
    return tuple(tuple(sorted((kind, tuple(sorted(values.items()))) for kind, values in state.items())) for state in states)


def ted_predict(
    self: TEDPolicy, tracker: DialogueStateTracker, domain: Domain, rule_only_data: Optional[Dict[Text, Any]] = None,
    **kwargs: Any,
) -> PolicyPrediction:
    """TEDPolicy.predict_action_probabilities, remembered by the dialogue states it reads. Not for
    a model that reads the shopper's text itself (end-to-end): then the text decides too."""
    if self.model is None or self.only_e2e or TEXT in self.fake_features:
        return _ted_predict(self, tracker, domain, rule_only_data=rule_only_data, **kwargs)
    key = frozen_states(self._prediction_states(tracker, domain, rule_only_data=rule_only_data))
    remembered: "OrderedDict[Hashable, PolicyPrediction]" = self.__dict__.setdefault("_remembered_predictions", OrderedDict())
    known = remembered.get(key)
    if known is None:
        known = remembered[key] = _ted_predict(self, tracker, domain, rule_only_data=rule_only_data, **kwargs)
        if len(remembered) > TED_PREDICTIONS_REMEMBERED:
            remembered.popitem(last=False)
    else:
        remembered.move_to_end(key)
    # A new prediction each time: the caller may change the one it gets.
    return self._prediction(
        list(known.probabilities), events=list(known.events), optional_events=list(known.optional_events),
        is_end_to_end_prediction=known.is_end_to_end_prediction, is_no_user_prediction=known.is_no_user_prediction,
        diagnostic_data=known.diagnostic_data, action_metadata=known.action_metadata,
    )


_past_states = DialogueStateTracker.past_states


def past_states(
    self: DialogueStateTracker, domain: Domain, omit_unset_slots: bool = False, ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[State]:
    """DialogueStateTracker.past_states, worked out once for each number of events the tracker
    has (events are only ever added); each caller gets its own copy, as callers change them."""
    key = (len(self.events), id(domain), omit_unset_slots, ignore_rule_only_turns, id(rule_only_data))
    known = self.__dict__.get("_known_past_states")
    if known is None or known[0] != key:
        known = self.__dict__["_known_past_states"] = (key, _past_states(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data))
    return [{kind: dict(values) for kind, values in state.items()} for state in known[1]]


IDLE_CONNECTION_SECONDS = 1.0


def kept_session(self: EndpointConfig) -> "contextlib.nullcontext[aiohttp.ClientSession]":
    """EndpointConfig.session, one per endpoint and kept open (`async with` leaves it open)."""
    session = self.__dict__.get("_kept_session")
    if session is None or session.closed:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) if self.basic_auth else None
        session = self.__dict__["_kept_session"] = aiohttp.ClientSession(
            headers=self.headers, auth=auth, timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT), json_serialize=ujson.dumps,
            # An idle connection is dropped well before the action server (Sanic: after 5 s) closes
            # it: a request written to a connection the server is closing is lost.
            connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS),
        )
    return contextlib.nullcontext(session)


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_type)
    TEDPolicy.predict_action_probabilities = ted_predict
    DialogueStateTracker.past_states = past_states
    EndpointConfig.session = kept_session


if __name__ == "__main__":
    install()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    sys.exit(main())
