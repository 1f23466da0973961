"""NLU benchmark: score the trained model's intents on a CSV of labelled messages.

The CSV has the columns `text`, `source` and `accept` (the intents that count
as right, `|`-separated; `faq` matches any `faq/<id>`). Prints accuracy per
source, the out-of-domain rejection rate and the in-domain false-rejection rate.
"""
import asyncio
import csv
import logging
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

REJECTIONS = {"out_of_scope", "nlu_fallback"}


def newest_model(path: str) -> str:
    model = Path(path)
    if model.is_dir():
        candidates = sorted(model.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise SystemExit(f"no trained model in {model}/; run `make train`")
        model = candidates[-1]
    return str(model)


def is_accepted(predicted: str, accept: List[str]) -> bool:
    return predicted in accept or (predicted.startswith("faq") and "faq" in accept)


def predicted_intent(parse: Dict) -> str:
    intent = parse["intent"]["name"]
    if intent == "faq":
        selected = parse.get("response_selector", {}).get("faq", {}).get("response", {})
        return selected.get("intent_response_key") or intent
    return intent


async def _parse_all(model: str, texts: List[str]) -> List[str]:
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    return [predicted_intent(await agent.parse_message(text)) for text in texts]


def benchmark_nlu(csv_path: str, model_path: str) -> int:
    logging.disable(logging.WARNING)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))  # rasa's debug lines
    rows = list(csv.DictReader(open(csv_path, newline="", encoding="utf-8")))
    model = newest_model(model_path)
    predictions = asyncio.run(_parse_all(model, [row["text"] for row in rows]))
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
    print(f"model {model}, {len(rows)} rows from {csv_path}")
    for source in sorted(total):
        print(f"  {source:<20} {right[source] / total[source]:6.1%}  ({right[source]}/{total[source]})")
    all_right = sum(right.values())
    print(f"  {'all':<20} {all_right / len(rows):6.1%}  ({all_right}/{len(rows)})")
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
        print(f"out-of-domain rejection rate  {rejected / len(ood):6.1%}  ({rejected}/{len(ood)})")
    if in_domain:
        print(f"in-domain false rejections    {in_domain_rejected / in_domain:6.1%}  ({in_domain_rejected}/{in_domain})")
    return 0
