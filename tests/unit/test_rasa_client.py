"""Which Rasa server each conversation goes to (bot/rasa/client.py)."""
from collections import Counter

from bot.rasa.client import RasaClient


def test_new_conversations_are_shared_out_evenly_and_each_keeps_its_server():
    rasa = RasaClient(None, "t", ["http://a", "http://b", "http://c"])
    senders = [f"shopper-{i}" for i in range(30)]
    homes = {sender: rasa.server_of(sender) for sender in senders}
    assert Counter(homes.values()) == {0: 10, 1: 10, 2: 10}
    # Asked again, interleaved with new conversations: every conversation keeps its server.
    for i, sender in enumerate(reversed(senders)):
        assert rasa.server_of(sender) == homes[sender]
        rasa.server_of(f"newcomer-{i}")
    assert Counter(rasa.server_of(f"newcomer-{i}") for i in range(30)) == {0: 10, 1: 10, 2: 10}


def test_the_least_recently_used_placement_is_forgotten_first(monkeypatch):
    monkeypatch.setattr(RasaClient, "PLACEMENTS_REMEMBERED", 3)
    rasa = RasaClient(None, "t", ["http://a", "http://b"])
    assert [rasa.server_of(s) for s in ("x", "y", "z")] == [0, 1, 0]
    rasa.server_of("x")  # used again: "y" is now the least recently used
    assert rasa.server_of("w") == 1  # a fourth conversation: "y" is forgotten
    assert set(rasa._placements) == {"z", "x", "w"}
    assert rasa.server_of("y") == 0  # placed anew, the next in turn
    assert rasa.server_of("x") == 0 and rasa.server_of("w") == 1
