"""The Rasa server as `make run` starts it (`python -m bot.rasa.server run ...`): Rasa's own
command line, with six of Rasa 3.6's per-message costs removed. All were found with py-spy on
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
  (`Domain.states_for_tracker_history`), three policies and several predictions a message. Here
  a tracker goes on from where it got to (the tracker store keeps it between messages), and the
  events that count (`applied_events`, without the undone ones) are worked out once for each
  new event, not for each time a policy asks. RulePolicy matches its rules against the latest
  turns only, as many as its longest rule has, not against the whole conversation, and
  remembers the rules those turns matched.
- Each run of the model's graph (once to read a message, once for each prediction) works out
  again which nodes the result needs, by a recursion that visits shared nodes many times, and
  hands them to dask's scheduler. Here each target's nodes are put in order once and run one
  after the other, as dask's synchronous scheduler runs them.
- Each call of the action server opens a new HTTP session, and so a new connection
  (`EndpointConfig.request`), and writes the whole tracker with the standard `json` module. Here
  an endpoint keeps one session, whose requests reuse their connections and write with `ujson`
  (one of Rasa's own dependencies), several times faster.

And one pause: the garbage collector's walks over a loaded model (bot/garbage.py), settled
after each model load.
"""
import contextlib
import functools
import json
import sys
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Dict, Hashable, List, Optional, Set, Text, Type

import aiohttp
import jsonschema
import rasa.core.agent
import ujson
from rasa.core.actions.action import RemoteAction
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.rule_policy import RulePolicy
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphSchema
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.constants import PREVIOUS_ACTION, USER
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

from bot import garbage


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


_applied_events = DialogueStateTracker.applied_events


def applied_events(self: DialogueStateTracker) -> List[Event]:
    """DialogueStateTracker.applied_events, remembered until the tracker's events change (they
    are only ever added to). Each prediction asks for it several times, and each time it walks
    the whole conversation."""
    events = self.events
    last = events[-1] if events else None
    known = self.__dict__.get("_applied")
    # (The last event itself is kept, not its id: a freed event's id may be taken by a new one.)
    if known is None or known[0] != len(events) or known[1] is not last:
        known = self.__dict__["_applied"] = (len(events), last, _applied_events(self))
    return list(known[2])  # callers may change the list they get


_get_possible_keys = RulePolicy._get_possible_keys
# Rule matches each RulePolicy remembers, the least recently used forgotten first.
RULE_MATCHES_REMEMBERED = 20_000


@functools.lru_cache(maxsize=None)
def _rule_length(rule_key: Text) -> int:
    return len(json.loads(rule_key))


def get_possible_keys(self: RulePolicy, lookup: Dict[Text, Text], states: List[State]) -> Set[Text]:
    """RulePolicy._get_possible_keys over the conversation's latest states only, as many as its
    longest rule has: a rule applies to every turn before its first (`_is_rule_applicable`), so
    the older states cannot change the result. Rasa checks every rule against every turn. The
    result is remembered by those states, as conversations pass through the same ones again and
    again: a served model's rules do not change (the server alone installs this, not training,
    which adds rules as it goes)."""
    rules = (id(lookup), len(lookup))
    longest_rules: Dict[Any, int] = self.__dict__.setdefault("_longest_rules", {})
    longest = longest_rules.get(rules)
    if longest is None:
        longest = longest_rules[rules] = max(map(_rule_length, lookup), default=0)
    latest = states[max(0, len(states) - longest):]
    remembered: "OrderedDict[Hashable, Set[Text]]" = self.__dict__.setdefault("_rule_matches", OrderedDict())
    key = (rules, frozen_states(latest))
    known = remembered.get(key)
    if known is None:
        known = remembered[key] = _get_possible_keys(self, lookup, latest)
        if len(remembered) > RULE_MATCHES_REMEMBERED:
            remembered.popitem(last=False)
    else:
        remembered.move_to_end(key)
    return set(known)  # the caller's own


_states_for_tracker_history = Domain.states_for_tracker_history


@dataclass
class _Replay:
    """How far `states_for_tracker_history` got through a tracker's events, to go on from there."""

    domain: Domain  # whose states these are (a swapped-in model brings another)
    rule_only_data: Optional[Dict[Text, Any]]
    events: List[Event]  # the applied events replayed so far
    tracker: DialogueStateTracker  # the state after them
    states: List[State]  # a state for each action among them
    last_ml_action_sub_state: Optional[Dict[Text, Any]] = None
    turn_was_hidden: bool = False


def states_for_tracker_history(
    self: Domain, tracker: DialogueStateTracker, omit_unset_slots: bool = False, ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[Text, Any]] = None,
) -> List[State]:
    """Domain.states_for_tracker_history (Rasa 3.6.21's, step for step), going on from where the
    last call on the same tracker got to while its applied events only grew."""
    applied = tracker.applied_events()
    replays: Dict[Any, _Replay] = tracker.__dict__.setdefault("_replays", {})
    replay = replays.get((omit_unset_slots, ignore_rule_only_turns))
    if (
        replay is None or replay.domain is not self or replay.rule_only_data is not rule_only_data
        or len(replay.events) > len(applied) or any(a is not b for a, b in zip(replay.events, applied))
    ):
        replay = replays[(omit_unset_slots, ignore_rule_only_turns)] = _Replay(self, rule_only_data, [], tracker.init_copy(), [])

    def add_state(replayed: DialogueStateTracker, hide_rule_turn: bool, states: List[State]) -> None:
        if ignore_rule_only_turns:
            # remember previous ml action based on the last non hidden turn
            if not replay.turn_was_hidden:
                replay.last_ml_action_sub_state = self._get_prev_action_sub_state(replayed)
            # followup action or happy path loop prediction don't change whether the turn is hidden
            if not replayed.followup_action and not replayed.latest_action_name == replayed.active_loop_name:
                replay.turn_was_hidden = hide_rule_turn
            if replay.turn_was_hidden:
                return
        state = self.get_active_state(replayed, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            self._remove_rule_only_features(state, rule_only_data)
            if states:
                self._substitute_rule_only_user_input(state, states[-1])
            if replay.last_ml_action_sub_state:
                state[PREVIOUS_ACTION] = replay.last_ml_action_sub_state
        states.append(self._clean_state(state))

    for event in applied[len(replay.events):]:
        if isinstance(event, ActionExecuted):
            add_state(replay.tracker, event.hide_rule_turn, replay.states)
        replay.tracker.update(event)
        replay.events.append(event)
    # The state after the last event, which the next events may still change.
    states, saved = list(replay.states), (replay.last_ml_action_sub_state, replay.turn_was_hidden)
    add_state(replay.tracker, False, states)
    replay.last_ml_action_sub_state, replay.turn_was_hidden = saved
    # Callers delete keys of the user's part of a state (the intent, entities or text they
    # do not featurize): it is the part each one gets a copy of.
    return [{**state, USER: dict(state[USER])} if USER in state else dict(state) for state in states]


def run_graph(self: DaskGraphRunner, inputs: Optional[Dict[Text, Any]] = None, targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
    """DaskGraphRunner.run: each node once, after the nodes it needs, with their results."""
    run_targets = targets if targets else self._graph_schema.target_names
    plans: Dict[Any, List[Any]] = self.__dict__.setdefault("_plans", {})
    plan = plans.get(tuple(run_targets))
    if plan is None:
        plan = plans[tuple(run_targets)] = _plan(self, self._graph_schema.minimal_graph_schema(run_targets))
    # A result is (node name, output), as GraphNode returns it and dask passes it on.
    results: Dict[Text, Any] = {name: (name, value) for name, value in (inputs or {}).items()}
    try:
        for name, node, needs in plan:
            results[name] = node(*(results[need] for need in needs))
    except RuntimeError as error:
        raise GraphRunError("Error running runner.") from error
    return dict(results[target] for target in run_targets)


def _plan(runner: DaskGraphRunner, schema: GraphSchema) -> List[Any]:
    """The schema's nodes in an order that runs each after the nodes it needs."""
    ordered: List[Any] = []
    done: set = set()

    def visit(name: Text) -> None:
        if name in done or name not in schema.nodes:  # (not a node: one of the run's inputs)
            return
        done.add(name)
        needs = list(schema.nodes[name].needs.values())
        for need in needs:
            visit(need)
        ordered.append((name, runner._instantiated_nodes[name], needs))

    for name in schema.nodes:
        visit(name)
    return ordered


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


_load_agent = rasa.core.agent.load_agent


async def load_agent(*args: Any, **kwargs: Any) -> Any:
    """rasa.core.agent.load_agent (at start and for a model swap), then the loaded objects out of
    the garbage collector's walks. A swapped-out model's objects are walked again (and freed)
    at the next load."""
    garbage.unsettle()
    agent = await _load_agent(*args, **kwargs)
    garbage.settle()
    return agent


def install() -> None:
    RemoteAction._validate_action_result = validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_type)
    TEDPolicy.predict_action_probabilities = ted_predict
    Domain.states_for_tracker_history = states_for_tracker_history
    DialogueStateTracker.applied_events = applied_events
    RulePolicy._get_possible_keys = get_possible_keys
    EndpointConfig.session = kept_session
    DaskGraphRunner.run = run_graph
    rasa.core.agent.load_agent = load_agent


if __name__ == "__main__":
    install()
    from rasa.__main__ import main

    sys.argv[0] = "rasa"
    sys.exit(main())
