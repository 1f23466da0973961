"""The seller's rules from shop.yml, validated into a frozen ShopSettings."""
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.rules import RETURN_REASONS, AutoApprovalRule

BUYER_CANCELLATION_MODES = ("request", "instant")


class SettingsError(ValueError):
    pass


@dataclass(frozen=True)
class ShopSettings:
    shop: str
    name: str
    self_shipping_deadline_days: int = 12
    at_risk_days: int = 3
    return_window_days: int = 15
    buyer_cancellation: str = "request"
    platform_auto_approval_hours: int = 24
    return_auto_approval: AutoApprovalRule = AutoApprovalRule()


def _positive_int(document: dict, key: str, default: int, path: Path) -> int:
    value = document.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise SettingsError(f"{path}: `{key}` must be a whole number of 0 or more, not {value!r}")
    return value


def load_settings(path: Path) -> ShopSettings:
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise SettingsError(f"{path}: cannot read shop settings: {error}") from error
    if not isinstance(document, dict) or not document.get("shop"):
        raise SettingsError(f"{path}: expected a mapping with at least `shop` (the shop's slug)")
    cancellation = document.get("buyer_cancellation", "request")
    if cancellation not in BUYER_CANCELLATION_MODES:
        raise SettingsError(f"{path}: `buyer_cancellation` must be one of {BUYER_CANCELLATION_MODES}")
    rule = document.get("return_auto_approval") or {}
    reasons = tuple(rule.get("reasons") or ())
    unknown = set(reasons) - set(RETURN_REASONS)
    if unknown:
        raise SettingsError(f"{path}: unknown return reasons {sorted(unknown)}; known: {', '.join(RETURN_REASONS)}")
    try:
        max_amount_cents = round(float(rule.get("max_amount", 0)) * 100)
    except (TypeError, ValueError) as error:
        raise SettingsError(f"{path}: `return_auto_approval.max_amount` must be a number") from error
    return ShopSettings(
        shop=str(document["shop"]),
        name=str(document.get("name") or document["shop"]),
        self_shipping_deadline_days=_positive_int(document, "self_shipping_deadline_days", 12, path),
        at_risk_days=_positive_int(document, "at_risk_days", 3, path),
        return_window_days=_positive_int(document, "return_window_days", 15, path),
        buyer_cancellation=cancellation,
        platform_auto_approval_hours=_positive_int(document, "platform_auto_approval_hours", 24, path),
        return_auto_approval=AutoApprovalRule(
            enabled=bool(rule.get("enabled", False)),
            max_amount_cents=max_amount_cents,
            reasons=reasons,
            max_days_since_delivery=_positive_int(rule, "max_days_since_delivery", 0, path),
        ),
    )
