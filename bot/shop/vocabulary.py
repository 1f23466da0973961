"""The shop's vocabulary: the values an order, its cancellation and its after-sales
requests take, what they are called in the chat, and the order-number format.

The values are the strings stored in the database and named by the responses in
domain.yml (`utter_order_status_<status>`, `utter_cancellation_reason_<type>`,
`utter_after_sales_<status>`, the return form's buttons), so they never change;
the `*_TEXT` tables are how the bot names them to shoppers.
"""
import re
from typing import Optional

# --- Orders --------------------------------------------------------------------------------

# The order's life cycle, as on the marketplaces.
PENDING_PAYMENT, READY_TO_SHIP, IN_DELIVERY, DELIVERED, CANCELLED = (
    "pending_payment", "ready_to_ship", "in_delivery", "delivered", "cancelled",
)
ORDER_STATUSES = (PENDING_PAYMENT, READY_TO_SHIP, IN_DELIVERY, DELIVERED, CANCELLED)
STATUS_TEXT = {
    PENDING_PAYMENT: "waiting for payment",
    READY_TO_SHIP: "paid and being prepared for shipping",
    IN_DELIVERY: "on its way",
    DELIVERED: "delivered",
    CANCELLED: "cancelled",
}

# The same in Indonesian (the `language` slot "id", bot/nlu/language.py); here and below.
STATUS_TEXT_ID = {
    PENDING_PAYMENT: "menunggu pembayaran",
    READY_TO_SHIP: "sudah dibayar dan sedang disiapkan untuk dikirim",
    IN_DELIVERY: "dalam perjalanan",
    DELIVERED: "sudah diterima",
    CANCELLED: "dibatalkan",
}

# Who ships: the marketplace's logistics, or the seller ("self-shipped", judged by the
# self-shipping deadline).
PLATFORM_LOGISTICS, SELF_SHIPPING = "platform", "self"
LOGISTICS = (PLATFORM_LOGISTICS, SELF_SHIPPING)

# What went wrong with a parcel on the way (`utter_tracking_parcel_<problem>`).
PARCEL_LOST, PARCEL_DAMAGED = "lost", "damaged"
PARCEL_PROBLEMS = (PARCEL_LOST, PARCEL_DAMAGED)

# --- Cancellations -------------------------------------------------------------------------

# Who or what cancelled the order; the marketplace counts each type separately.
BY_SELLER, AUTOMATIC, LOGISTICS_OBSTACLE, BY_BUYER = "by_seller", "automatic", "logistics_obstacle", "by_buyer"
CANCELLATION_TYPES = (BY_SELLER, AUTOMATIC, LOGISTICS_OBSTACLE, BY_BUYER)
CANCELLATION_TYPE_TEXT = {
    BY_SELLER: "by the seller",
    AUTOMATIC: "automatic (by the marketplace)",
    LOGISTICS_OBSTACLE: "logistics obstacle (parcel lost or damaged)",
    BY_BUYER: "by the buyer",
}

# The refund of a cancelled order: none for an unpaid one, then pending until paid back.
NO_REFUND_NEEDED, REFUND_PENDING, REFUND_PAID = "none", "pending", "refunded"
CANCELLATION_REFUND_STATES = (NO_REFUND_NEEDED, REFUND_PENDING, REFUND_PAID)

# What a buyer's "cancel my order" does (shop.yml `buyer_cancellation`): ask the seller, or
# cancel at once.
CANCEL_ON_REQUEST, CANCEL_INSTANTLY = "request", "instant"
BUYER_CANCELLATION_MODES = (CANCEL_ON_REQUEST, CANCEL_INSTANTLY)

# --- After-sales requests (returns and refunds) --------------------------------------------

RETURN_AND_REFUND, REFUND_ONLY, REPLACEMENT = "return_and_refund", "refund_only", "replacement"
AFTER_SALES_KINDS = (RETURN_AND_REFUND, REFUND_ONLY, REPLACEMENT)
KIND_TEXT = {RETURN_AND_REFUND: "return and refund", REFUND_ONLY: "refund only", REPLACEMENT: "replacement"}
KIND_TEXT_ID = {RETURN_AND_REFUND: "retur dan pengembalian dana", REFUND_ONLY: "pengembalian dana saja", REPLACEMENT: "tukar barang"}

DAMAGED, WRONG_ITEM, NOT_AS_DESCRIBED, MISSING_PARTS, SIZE_FIT, CHANGED_MIND, OTHER_REASON = (
    "damaged", "wrong_item", "not_as_described", "missing_parts", "size_fit", "changed_mind", "other",
)
RETURN_REASONS = (DAMAGED, WRONG_ITEM, NOT_AS_DESCRIBED, MISSING_PARTS, SIZE_FIT, CHANGED_MIND, OTHER_REASON)
REASON_TEXT = {
    DAMAGED: "arrived damaged",
    WRONG_ITEM: "wrong item",
    NOT_AS_DESCRIBED: "not as described",
    MISSING_PARTS: "parts missing",
    SIZE_FIT: "size or fit",
    CHANGED_MIND: "changed my mind",
    OTHER_REASON: "other",
}
REASON_TEXT_ID = {
    DAMAGED: "barang rusak",
    WRONG_ITEM: "barang salah",
    NOT_AS_DESCRIBED: "tidak sesuai deskripsi",
    MISSING_PARTS: "ada bagian yang kurang",
    SIZE_FIT: "ukuran tidak pas",
    CHANGED_MIND: "berubah pikiran",
    OTHER_REASON: "lainnya",
}

REQUESTED, APPROVED, REJECTED, REFUNDED = "requested", "approved", "rejected", "refunded"
# Taken back by the buyer before anyone decided it (in the chat: "cancel my return").
WITHDRAWN = "withdrawn"
AFTER_SALES_STATUSES = (REQUESTED, APPROVED, REJECTED, REFUNDED, WITHDRAWN)
# Never stored: a request still `requested` after the platform's auto-approval time has been
# approved by the marketplace, whatever the shop's data says (`utter_after_sales_platform_approved`).
PLATFORM_APPROVED = "platform_approved"

# Who acted on a request (AfterSalesEvent.actor): the buyer asks; the seller, the seller's
# auto-approval rule (shop.yml) or the platform decides (AfterSalesRequest.decided_by). The
# After-Sales Handling Time counts the seller's and the seller rule's decisions only.
BUYER = "buyer"
DECIDED_BY_SELLER, DECIDED_BY_SELLER_RULE, DECIDED_BY_PLATFORM = "seller", "seller_rule", "platform"
DECIDERS = (DECIDED_BY_SELLER, DECIDED_BY_SELLER_RULE, DECIDED_BY_PLATFORM)

# --- Carriers' and the marketplace's own words ---------------------------------------------

# Scan descriptions and cancellation reasons come as the carrier, the marketplace or the
# seller wrote them; their standard ones (those of the demo shop among them) in Indonesian.
# Any other is shown as written.
PHRASES_ID = {
    "Arrived at sorting centre": "Tiba di pusat sortir",
    "Departed sorting centre": "Berangkat dari pusat sortir",
    "Arrived at local delivery office": "Tiba di kantor pengiriman setempat",
    "Out for delivery": "Sedang diantar kurir",
    "Delivered": "Terkirim",
    "Parcel missing: the carrier has opened an investigation": "Paket hilang: kurir sedang menyelidikinya",
    "Parcel damaged in transit; the carrier has informed the seller": "Paket rusak dalam perjalanan; kurir sudah memberi tahu penjual",
    "Parcel lost in transit": "Paket hilang dalam perjalanan",
    "Parcel damaged in transit": "Paket rusak dalam perjalanan",
    "Not paid within 24 hours": "Tidak dibayar dalam 24 jam",
    "Out of stock": "Stok habis",
    "Item discontinued": "Barang tidak diproduksi lagi",
    "Pricing error": "Kesalahan harga",
    "Cannot ship to this address": "Tidak bisa dikirim ke alamat ini",
    "Changed my mind": "Berubah pikiran",
    "Ordered by mistake": "Salah pesan",
    "Found a better price elsewhere": "Menemukan harga lebih murah di tempat lain",
    "Need a different size": "Butuh ukuran lain",
    "Delivery takes too long": "Pengiriman terlalu lama",
    "Requested by the buyer in the shop chat": "Diminta pembeli lewat chat toko",
}
# "Not shipped within 12 days" (the shop's deadline): the number varies.
PHRASE_PATTERNS_ID = ((re.compile(r"Not shipped within (\d+) days"), r"Tidak dikirim dalam \1 hari"),)

# --- Order numbers -------------------------------------------------------------------------

# An order number as stored and looked up: the shop's own ("100245") or an export's
# ("A-1001"). At least 3 digits, so that words ("hello", "ABC-XY") are never taken for one.
ORDER_NUMBER = re.compile(r"(?=(?:[^0-9]*[0-9]){3})[A-Za-z0-9][A-Za-z0-9-]{2,31}")
ORDER_NUMBER_FORMAT = "3 to 32 letters, digits or '-', starting with a letter or digit, with at least 3 digits"
# As shoppers write it: "#100245", "# 100245".
_ORDER_NUMBER_AS_WRITTEN = re.compile(rf"#?\s*({ORDER_NUMBER.pattern})")


def is_order_number(value: str) -> bool:
    """Whether `value` is an order number exactly as stored (no "#", no spaces)."""
    return ORDER_NUMBER.fullmatch(value) is not None


def normalise_order_number(text: Optional[str]) -> Optional[str]:
    """"#100245", " 100245 " → "100245"; None when it is no order number."""
    match = _ORDER_NUMBER_AS_WRITTEN.fullmatch((text or "").strip())
    return match.group(1) if match else None
