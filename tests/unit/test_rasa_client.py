"""Which Rasa server each conversation goes to, and in what order its messages are let in
(bot/rasa/client.py)."""
import asyncio
from collections import Counter

from bot.rasa.client import FifoGate, RasaClient


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


async def test_the_gate_lets_in_as_many_as_it_holds_and_the_others_in_the_order_they_came():
    gate, log = FifoGate(2), []
    release = {name: asyncio.Event() for name in "abcde"}

    async def visitor(name: str) -> None:
        async with gate:
            log.append(f"in {name}")
            await release[name].wait()
        log.append(f"out {name}")

    tasks = []
    for name in "abcde":
        tasks.append(asyncio.create_task(visitor(name)))
        await asyncio.sleep(0)  # each arrives after the one before
    await asyncio.sleep(0)
    assert log == ["in a", "in b"] and gate.holders == 2
    release["b"].set()
    await asyncio.sleep(0.01)
    assert log == ["in a", "in b", "out b", "in c"]
    for name in "acde":
        release[name].set()
    await asyncio.gather(*tasks)
    assert [entry for entry in log if entry.startswith("in")] == ["in a", "in b", "in c", "in d", "in e"]
    assert gate.holders == 0


async def test_a_visitor_that_gives_up_waiting_loses_no_place():
    gate = FifoGate(1)
    await gate.__aenter__()  # the place is taken
    waiting = asyncio.create_task(gate.__aenter__())
    behind = asyncio.create_task(gate.__aenter__())
    await asyncio.sleep(0)
    waiting.cancel()  # the shopper went away (the request was cancelled)
    await asyncio.sleep(0)
    await gate.__aexit__(None, None, None)
    await asyncio.wait_for(behind, 1)  # the next in line got the place
    assert gate.holders == 1
    await gate.__aexit__(None, None, None)
    assert gate.holders == 0


async def test_a_place_handed_over_as_the_visitor_is_cancelled_goes_to_the_next():
    gate = FifoGate(1)
    await gate.__aenter__()
    first = asyncio.create_task(gate.__aenter__())
    second = asyncio.create_task(gate.__aenter__())
    await asyncio.sleep(0)
    await gate.__aexit__(None, None, None)  # hands the place to `first` ...
    first.cancel()  # ... which is cancelled before it runs
    await asyncio.sleep(0)
    await asyncio.wait_for(second, 1)
    assert gate.holders == 1
