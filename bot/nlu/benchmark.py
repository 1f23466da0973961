"""Benchmarks of the trained model.

`benchmark_nlu` scores the intents on a CSV of labelled messages. The CSV has the
columns `text`, `source` and `accept` (the intents that count as right,
`|`-separated; `faq` matches any `faq/<id>`). Prints accuracy per source, the
out-of-domain rejection rate and the in-domain false-rejection rate.

`benchmark_faq` scores the FAQ recommendations (the FAQ matcher's ranking)
on held-out phrasings of each FAQ: top-1 and top-3 accuracy per category, and
the misses.

`benchmark_retrain` times a FAQ edit's retrain and model swap on the running
product while a shopper chats.
"""
import asyncio
import csv
import logging
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from bot.config import PROJECT_DIR, Config
from bot.faq.store import CATEGORIES, FaqStore
from bot.files import newest_model
from bot.rasa.recommendations import faq_ranking

REJECTIONS = {"out_of_scope", "nlu_fallback"}
FAQ_TOP_K = 3


def model_file(path: str) -> str:
    """`path` itself, or the newest model in the folder `path`."""
    model = Path(path)
    if model.is_dir():
        model = newest_model(model)
        if model is None:
            raise SystemExit(f"no trained model in {path}/; run `make train`")
    return str(model)


def is_accepted(predicted: str, accept: List[str]) -> bool:
    return predicted in accept or (predicted.startswith("faq") and "faq" in accept)


def predicted_intent(parse: Dict) -> str:
    intent = parse["intent"]["name"]
    if intent == "faq":
        selected = parse.get("response_selector", {}).get("faq", {}).get("response", {})
        return selected.get("intent_response_key") or intent
    return intent


async def _parse_all(model: str, texts: List[str]) -> List[Dict]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    return [await agent.parse_message(text) for text in texts]


def parse_with_model(model_path: str, texts: List[str]) -> Tuple[str, List[Dict]]:
    """The model file used (newest under `model_path`) and its parse of each text."""
    logging.disable(logging.WARNING)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # rasa's debug lines
    model = model_file(model_path)
    return model, asyncio.run(_parse_all(model, texts))


BASELINE_FILE = PROJECT_DIR / "benchmarks" / "nlu_baseline.yml"


def _share(right: int, total: int) -> str:
    return f"{right / total:6.1%} ({right}/{total})"


def _before(figure: Optional[float]) -> str:
    return "" if figure is None else f"   before {figure:6.1%}"


def benchmark_nlu(csv_path: str, model_path: str) -> int:
    rows = list(csv.DictReader(open(csv_path, newline="", encoding="utf-8")))
    model, parses = parse_with_model(model_path, [row["text"] for row in rows])
    predictions = [predicted_intent(parse) for parse in parses]
    right: Dict[str, int] = defaultdict(int)
    total: Dict[str, int] = defaultdict(int)
    in_domain = in_domain_rejected = 0
    for row, predicted in zip(rows, predictions):
        accept = row["accept"].split("|")
        total[row["source"]] += 1
        right[row["source"]] += is_accepted(predicted, accept)
        if not REJECTIONS & set(accept):
            in_domain += 1
            in_domain_rejected += predicted in REJECTIONS
    baseline = yaml.safe_load(BASELINE_FILE.read_text()) if BASELINE_FILE.exists() else {}
    before = baseline.get("accuracy", {})
    print(f"model {model}, {len(rows)} rows from {csv_path}; before: {baseline.get('measured', 'no baseline')}")
    for source in sorted(total):
        print(f"  {source:<20} {_share(right[source], total[source]):<20}{_before(before.get(source))}")
    print(f"  {'all':<20} {_share(sum(right.values()), len(rows)):<20}{_before(before.get('all'))}")
    confusions: Dict[str, int] = defaultdict(int)
    for row, predicted in zip(rows, predictions):
        if not is_accepted(predicted, row["accept"].split("|")):
            confusions[f"{row['accept']} -> {predicted.split('/')[0]}"] += 1
    print("most frequent errors (accepted -> predicted):")
    for confusion, count in sorted(confusions.items(), key=lambda item: -item[1])[:12]:
        print(f"  {count:4d}  {confusion}")
    ood = [p for row, p in zip(rows, predictions) if REJECTIONS & set(row["accept"].split("|"))]
    if ood:
        rejected = sum(p in REJECTIONS for p in ood)
        print(f"out-of-domain rejection rate  {_share(rejected, len(ood)):<20}{_before(baseline.get('out_of_domain_rejection'))}")
    if in_domain:
        print(f"in-domain false rejections    {_share(in_domain_rejected, in_domain):<20}{_before(baseline.get('in_domain_false_rejection'))}")
    return 0


def benchmark_faq(heldout_path: str, model_path: str) -> int:
    heldout: Dict[str, List[str]] = yaml.safe_load(open(heldout_path, encoding="utf-8"))
    store = FaqStore(Config.from_env().faq_dir)
    category = {faq.id: faq.category for faq in store.all()}
    cases = [(faq_id, text) for faq_id, texts in heldout.items() for text in texts]
    model, parses = parse_with_model(model_path, [text for _, text in cases])
    total: Dict[str, int] = defaultdict(int)
    top_1: Dict[str, int] = defaultdict(int)
    top_k: Dict[str, int] = defaultdict(int)
    misses = []
    for (faq_id, text), parse in zip(cases, parses):
        # The ranking agents are shown: bot/rasa/recommendations.py's.
        ranking = [(faq.id, confidence) for faq, confidence in faq_ranking(parse, store)]
        ranked_ids = [ranked_id for ranked_id, _ in ranking]
        for group in (category.get(faq_id, "unknown"), "all"):
            total[group] += 1
            top_1[group] += ranked_ids[:1] == [faq_id]
            top_k[group] += faq_id in ranked_ids[:FAQ_TOP_K]
        if ranked_ids[:1] != [faq_id]:
            misses.append((faq_id, text, ranking[:FAQ_TOP_K]))
    print(f"model {model}, {len(cases)} held-out phrasings of {len(heldout)} FAQs from {heldout_path}")
    print(f"  {'category':<14} {'top-1':<16} top-{FAQ_TOP_K}")
    for group in (*CATEGORIES, "unknown", "all"):
        if total[group]:
            print(f"  {group:<14} {_share(top_1[group], total[group]):<16} {_share(top_k[group], total[group])}")
    print(f"misses (expected -> top {FAQ_TOP_K}):")
    for faq_id, text, top in misses:
        ranked = ", ".join(f"{ranked_id} {confidence:.2f}" for ranked_id, confidence in top)
        print(f"  {faq_id} -> {ranked}  | {text}")
    return 0


RETRAIN_PHRASING = "benchmark: a new way to ask this"
RETRAIN_WAIT_SECONDS = 900
CHAT_QUESTIONS = ["how long does delivery take", "can i pay with paypal", "what is your return policy", "hi"]


def _chat_while(url: str, stop: threading.Event, results: List[Tuple[float, float, int]]) -> None:
    """Shopper messages one after another: (sent at, seconds to the reply, HTTP status)."""
    import requests

    sent = 0
    while not stop.is_set():
        started = time.monotonic()
        try:
            status = requests.post(f"{url}/api/chat", timeout=120, json={
                "sender": f"benchmark-retrain-{sent % 5}", "message": CHAT_QUESTIONS[sent % len(CHAT_QUESTIONS)],
            }).status_code
        except requests.RequestException:
            status = 0
        results.append((started, time.monotonic() - started, status))
        sent += 1
        time.sleep(0.2)


def benchmark_retrain(url: str, username: str, password: str, faq_id: str) -> int:
    """On a running product: add a question to a FAQ on the admin page, which retrains and
    swaps the model, while a shopper chats; print the times and how the chat fared. Then
    revert the edit (a second retrain, measured the same way)."""
    import html
    import re

    import requests

    seller = requests.Session()
    login = seller.post(f"{url}/login", data={"username": username, "password": password}, allow_redirects=False)
    if login.status_code != 303:
        raise SystemExit(f"cannot log in to {url} as {username} (HTTP {login.status_code})")
    csrf = seller.get(f"{url}/api/me").json()["csrf_token"]

    def field(page: str, pattern: str) -> str:
        found = re.search(pattern, page)
        if found is None:
            raise SystemExit(f"the edit form of FAQ {faq_id} has no field matching {pattern}")
        return html.unescape(found.group(1))

    def add_question() -> None:
        page = seller.get(f"{url}/admin/faqs/{faq_id}").text
        similar = field(page, r'name="similar"[^>]*>([^<]*)</textarea>')
        form = {
            "csrf_token": csrf, "version": field(page, r'name="version" value="([0-9a-f]+)"'),
            "category": field(page, r"<option selected>([^<]+)<"), "question": field(page, r'name="question" value="([^"]*)"'),
            # New each run: a phrasing trained before would come out of Rasa's training cache.
            "similar": f"{similar}\n{RETRAIN_PHRASING} {int(time.time())}", "answer": field(page, r'name="answer"[^>]*>([^<]*)</textarea>'),
            "buttons": field(page, r'name="buttons"[^>]*>([^<]*)</textarea>'),
            **{box: "on" for box in ("enabled", "welcome") if re.search(rf'name="{box}"[^>]*checked', page)},
        }
        response = seller.post(f"{url}/admin/faqs/{faq_id}", data=form)
        if response.status_code != 200:
            raise SystemExit(f"the edit was refused (HTTP {response.status_code})")
        nonlocal our_revision
        our_revision = newest_revision()  # just made: the one to revert, whatever others do meanwhile

    def newest_revision() -> str:
        found = re.search(r"/admin/history/(\d+)/revert", seller.get(f"{url}/admin/history").text)
        if found is None:
            raise SystemExit("the history page lists no revision to revert")
        return found.group(1)

    def revert_it() -> None:
        response = seller.post(f"{url}/admin/history/{our_revision}/revert", data={"csrf_token": csrf})
        if response.status_code != 200:  # the redirect to the history page is followed
            raise SystemExit(f"the revert was refused (HTTP {response.status_code}); revert revision {our_revision} by hand")

    our_revision = ""
    print(f"retrain and swap on {url}, FAQ {faq_id}, a shopper chatting all along")
    for label, edit in (("add a question", add_question), ("revert it", revert_it)):
        runs = seller.get(f"{url}/api/admin/training").json()["runs"]
        results: List[Tuple[float, float, int]] = []
        stop = threading.Event()
        chatter = threading.Thread(target=_chat_while, args=(url, stop, results))
        chatter.start()
        started = time.monotonic()
        try:
            edit()
            while True:
                status = seller.get(f"{url}/api/admin/training").json()
                if status["runs"] > runs and status["state"] in ("done", "failed"):
                    break
                if time.monotonic() - started > RETRAIN_WAIT_SECONDS:
                    raise SystemExit(f"no retrain finished within {RETRAIN_WAIT_SECONDS} s: {status}")
                time.sleep(1)
        finally:
            stop.set()
            chatter.join()
        seconds = sorted(latency for _, latency, _ in results)
        failed = sum(code != 200 for _, _, code in results)
        print(f"  {label}: {status['state']}, train {status['train_seconds']} s, swap {status['swap_seconds']} s, "
              f"edit to new model {time.monotonic() - started:.0f} s")
        print(f"    {len(results)} chat messages meanwhile, {failed} failed; reply time median "
              f"{seconds[len(seconds) // 2]:.2f} s, slowest {seconds[-1]:.2f} s")
    return 0
