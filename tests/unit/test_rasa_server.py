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


# --- dialogue states that go on from where they got to ---

@pytest.fixture(scope="module")
def conversations():
    """The domain, and the event sequences of the project's stories and rules, each also with
    the turns Rasa takes back (an action or a message reverted, a restart) and turns a rule hid."""
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionReverted, Restarted, UserUtteranceReverted
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.core.training_data.structures import StoryGraph

    from bot.config import PROJECT_DIR

    domain = Domain.load(str(PROJECT_DIR / "domain.yml"))
    steps = []
    for path in sorted((PROJECT_DIR / "data").glob("*/*.yml")):
        if path.parent.name in ("stories", "rules"):
            steps += YAMLStoryReader(domain).read_from_file(str(path))
    trackers = TrainingDataGenerator(StoryGraph(steps), domain, augmentation_factor=0, remove_duplicates=False).generate()
    plain = [list(tracker.events) for tracker in trackers]
    changed = []
    for events in plain:
        taken_back, hidden = [], []
        for index, event in enumerate(events):
            taken_back.append(event)
            if isinstance(event, UserUttered) and index % 3 == 0:
                taken_back.append(UserUtteranceReverted())
            if isinstance(event, ActionExecuted) and index % 4 == 1:
                taken_back.append(ActionReverted())
            hidden.append(ActionExecuted(event.action_name, hide_rule_turn=index % 2 == 0) if isinstance(event, ActionExecuted) else event)
        changed += [taken_back, hidden, [*events, Restarted(), *events]]
    assert len(plain) > 50 and any(len(events) > 10 for events in plain)
    return domain, plain + changed


@pytest.mark.parametrize("omit_unset_slots, ignore_rule_only_turns", [(False, False), (True, False), (False, True)])
def test_dialogue_states_going_on_from_where_they_got_to_are_rasas(conversations, omit_unset_slots, ignore_rule_only_turns):
    from rasa.shared.core.trackers import DialogueStateTracker

    domain, sequences = conversations
    rule_only_data = {"slots": ["follow_up"], "loops": ["order_lookup_form"]} if ignore_rule_only_turns else None
    compared = 0
    for events in sequences:
        tracker = DialogueStateTracker("growing", domain.slots)  # one tracker, growing event by event
        for event in events:
            tracker.update(event)
            ours = server.states_for_tracker_history(domain, tracker, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
            rasas = server._states_for_tracker_history(
                domain, DialogueStateTracker.from_events("fresh", list(tracker.events), domain.slots),
                omit_unset_slots, ignore_rule_only_turns, rule_only_data,
            )
            assert ours == rasas
            for state in ours:  # as Rasa's featurizers do to the states they get
                state.get("user", {}).pop("intent", None)
            compared += 1
    assert compared > 1000


def test_dialogue_states_of_another_models_domain_are_worked_out_afresh(conversations):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    domain, sequences = conversations
    events = max(sequences, key=len)
    tracker = DialogueStateTracker.from_events("t", events, domain.slots)
    server.states_for_tracker_history(domain, tracker)
    other = Domain.from_dict({**domain.as_dict(), "slots": {}})  # a retrained model without the slots
    ours = server.states_for_tracker_history(other, tracker)
    assert ours == server._states_for_tracker_history(other, DialogueStateTracker.from_events("t", events, domain.slots))
    assert not any("slots" in state for state in ours)


def test_applied_events_remembered_until_the_events_change_are_rasas(conversations, monkeypatch):
    """Every event sequence (with reverted turns and restarts), growing event by event: the
    remembered applied events are Rasa's, worked out once per new event."""
    from rasa.shared.core.trackers import DialogueStateTracker

    domain, sequences = conversations
    walks = []
    original = server._applied_events
    monkeypatch.setattr(server, "_applied_events", lambda tracker: walks.append(1) or original(tracker))
    compared = 0
    for events in sequences:
        tracker = DialogueStateTracker("growing", domain.slots)
        for event in events:
            tracker.update(event)
            walks.clear()
            first, again = server.applied_events(tracker), server.applied_events(tracker)
            assert len(walks) == 1  # the second call is remembered
            rasas = original(DialogueStateTracker.from_events("fresh", list(tracker.events), domain.slots))
            assert [id(e) for e in first] == [id(e) for e in again] == [id(e) for e in rasas]
            first.clear()  # a caller changing its list changes nobody else's
            assert len(server.applied_events(tracker)) == len(rasas)
            compared += 1
    assert compared > 1000


def test_rules_matched_against_the_latest_turns_only_match_as_rasas(conversations, tmp_path):
    """Rules cut from the project's conversations (1 to 5 turns, some with slots that must not
    be set, each also after a turn that never happens, one from a conversation's start), matched
    against every prefix of every conversation: the same rules as Rasa's match over the whole
    conversation."""
    import json
    import random

    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.core.trackers import DialogueStateTracker

    domain, sequences = conversations
    policy = RulePolicy(
        RulePolicy.get_default_config(), LocalModelStorage(tmp_path), Resource("rules"), ExecutionContext(GraphSchema({}), "t"),
    )
    histories = [server._states_for_tracker_history(domain, DialogueStateTracker.from_events("t", events, domain.slots))
                 for events in sequences[::3]]
    pick = random.Random(7)
    lookup = {}
    for states in histories:
        for _ in range(3):
            length = pick.randint(1, min(5, len(states)))
            end = pick.randint(length, len(states))
            rule = [{kind: dict(sub) for kind, sub in state.items()} for state in states[end - length:end]]
            if pick.random() < 0.3 and "slots" in rule[-1]:
                rule[-1]["slots"] = {name: "should_not_be_set" for name in rule[-1]["slots"]}
            lookup[json.dumps(rule, sort_keys=True)] = "action_listen"
            # The same rule after a turn no conversation has: only its oldest turn tells them apart.
            decoy = [{"prev_action": {"action_name": "action_never_taken"}}, *rule]
            lookup[json.dumps(decoy, sort_keys=True)] = "action_never_taken"
    lookup[json.dumps(histories[0][:2], sort_keys=True)] = "action_listen"  # from the conversation's start
    compared = matched = 0
    for states in histories:
        for end in range(1, len(states) + 1):
            ours = server.get_possible_keys(policy, lookup, states[:end])
            assert ours == server._get_possible_keys(policy, lookup, states[:end])
            compared, matched = compared + 1, matched + bool(ours)
    assert compared > 300 and matched > compared / 10  # rules did match, and often
    assert server.get_possible_keys(policy, {}, histories[0]) == set()


def test_rule_matches_are_remembered_by_the_latest_states_and_bounded(monkeypatch):
    import json

    runs = []

    def matches(self, lookup, states):
        runs.append(states)
        return {key for key in lookup if json.loads(key)[-1] == states[-1]}

    monkeypatch.setattr(server, "_get_possible_keys", matches)
    monkeypatch.setattr(server, "RULE_MATCHES_REMEMBERED", 2)
    policy = type("Policy", (), {})()
    greet, thank = {"user": {"intent": "greet"}}, {"user": {"intent": "thank"}}
    listened = {"prev_action": {"action_name": "action_listen"}}
    lookup = {json.dumps([listened, greet]): "utter_greet", json.dumps([thank]): "utter_welcome"}
    first = server.get_possible_keys(policy, lookup, [thank, listened, greet])
    first.add("changed by the caller")
    # An older turn differs, the latest two (the longest rule's length) do not: remembered.
    assert server.get_possible_keys(policy, lookup, [greet, listened, greet]) == {json.dumps([listened, greet])}
    assert runs == [[listened, greet]]  # run once, on the latest two states only
    assert server.get_possible_keys(policy, lookup, [greet, thank]) == {json.dumps([thank])}
    server.get_possible_keys(policy, lookup, [greet, greet])
    assert len(policy._rule_matches) == 2 and len(runs) == 3
    server.get_possible_keys(policy, lookup, [thank, listened, greet])  # the oldest, forgotten: run again
    assert len(runs) == 4
    # Other rules (the loops' unhappy paths) are remembered apart.
    assert server.get_possible_keys(policy, {json.dumps([greet]): "x"}, [greet, thank]) == set()


# --- TED's predictions remembered by the states they read ---

class FakeTed:
    """What server.ted_predict reads of a TEDPolicy; its "model" predicts from the latest state."""

    model, only_e2e, fake_features, priority = object(), False, {}, 1

    def __init__(self):
        self.runs = 0

    def _prediction_states(self, tracker, domain, rule_only_data=None):
        return [{"user": {"intent": tracker}}]

    def _prediction(self, probabilities, **kwargs):
        from rasa.core.policies.policy import PolicyPrediction

        return PolicyPrediction(probabilities, "TEDPolicy", self.priority, **kwargs)


def test_ted_predictions_are_remembered_by_the_states_they_read(monkeypatch):
    from rasa.core.policies.policy import PolicyPrediction

    def predict(self, tracker, domain, rule_only_data=None, **kwargs):
        self.runs += 1
        return PolicyPrediction([0.1, 0.9] if tracker == "order_status" else [0.8, 0.2], "TEDPolicy", 1, diagnostic_data={"a": 1})

    monkeypatch.setattr(server, "_ted_predict", predict)
    ted = FakeTed()
    first = server.ted_predict(ted, "order_status", None)
    again = server.ted_predict(ted, "order_status", None)
    other = server.ted_predict(ted, "greet", None)
    assert ted.runs == 2  # the same states were not run again
    assert first.probabilities == again.probabilities == [0.1, 0.9] and other.probabilities == [0.8, 0.2]
    assert again is not first and again.probabilities is not first.probabilities  # each caller its own
    assert again.diagnostic_data == {"a": 1} and again.policy_name == "TEDPolicy"


def test_an_end_to_end_ted_model_reads_the_text_so_nothing_is_remembered(monkeypatch):
    from rasa.core.policies.policy import PolicyPrediction

    def predict(self, tracker, domain, rule_only_data=None, **kwargs):
        self.runs += 1
        return PolicyPrediction([1.0], "TEDPolicy", 1)

    monkeypatch.setattr(server, "_ted_predict", predict)
    ted = FakeTed()
    ted.fake_features = {"text": []}
    server.ted_predict(ted, "order_status", None)
    server.ted_predict(ted, "order_status", None)
    assert ted.runs == 2


def test_remembered_ted_predictions_are_bounded(monkeypatch):
    from rasa.core.policies.policy import PolicyPrediction

    monkeypatch.setattr(server, "_ted_predict", lambda self, tracker, domain, **kwargs: PolicyPrediction([1.0], "TEDPolicy", 1))
    monkeypatch.setattr(server, "TED_PREDICTIONS_REMEMBERED", 3)
    ted = FakeTed()
    for intent in ("a", "b", "c", "d", "a"):
        server.ted_predict(ted, intent, None)
    assert len(ted._remembered_predictions) == 3


# --- the model's graph run node after node ---

def test_a_graph_runs_as_dask_ran_it():
    from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    class Add(GraphComponent):
        calls = []

        @classmethod
        def create(cls, config, model_storage, resource, execution_context):
            return cls(config)

        def __init__(self, config):
            self.amount = config["amount"]

        def add(self, **numbers):
            Add.calls.append(self.amount)
            return sum(numbers.values()) + self.amount

    def node(amount, needs):
        return SchemaNode(needs=needs, uses=Add, constructor_name="create", fn="add", config={"amount": amount})

    schema = GraphSchema({
        "a": node(1, {"x": "__start__"}), "b": node(10, {"x": "a"}), "c": node(100, {"x": "a", "y": "b"}),
        "d": node(1000, {"x": "c"}), "unused": node(5, {"x": "__start__"}),
    })
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        runner = DaskGraphRunner(schema, LocalModelStorage(folder), ExecutionContext(schema, "test"))
        expected = DaskGraphRunner.run(runner, inputs={"__start__": 2}, targets=["d", "b"])
        Add.calls.clear()
        ours = server.run_graph(runner, inputs={"__start__": 2}, targets=["d", "b"])
        assert ours == expected == {"d": 1116, "b": 13}
        assert sorted(Add.calls) == [1, 10, 100, 1000]  # each node needed once, the unused one not at all
        assert server.run_graph(runner, inputs={"__start__": 0}, targets=["d", "b"]) == {"d": 1112, "b": 11}
