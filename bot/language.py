"""Is a shopper's message in Indonesian, the marketplace's home language? Plain Python, so
that the web service can ask too without loading Rasa (the NLU component that marks such
messages is bot/nlu/language.py).

`language_of` counts the message's common Indonesian words (function words, chat words
such as "kak", "dong", "gimana", and the words of orders and deliveries) against common
English ones. A short message needs only one clear Indonesian word ("halo kak"); a word
that English chat uses too ("ya", "min" as in "5 min", "dan", "ada") counts half, so it
tips the balance only together with another. Order numbers, e-mail addresses and words
both languages use in chat ("order", "refund", "admin", "ok") count for neither.
"""
import re
from typing import Optional, Tuple

INDONESIAN, ENGLISH = "id", "en"
# The web service puts the language the shopper reads (or None) into each message's metadata under this key.
SHOPPER_LANGUAGE = "shopper_language"

INDONESIAN_WORDS = frozenset("""
    saya aku gue gw sy aq kamu anda kakak kak gan agan sista mimin kami kita dia mereka
    pesanan pesananku pesan memesan pesen barang brg paket produk toko penjual
    belum blm sudah udah udh sdh tidak tdk gak ngga nggak enggak engga gimana bagaimana gmn
    kapan kenapa knp mengapa kok dong deh sih nih tuh iya yaa yah yg yang atau tapi tetapi
    dengan dgn untuk utk buat dari pada ini itu apa apakah bisa bisakah mau ingin pengen
    tolong mohon minta terima kasih makasih trims halo hai selamat pagi siang sore malam
    bayar dibayar membayar pembayaran sampai sampe nyampe datang kirim dikirim
    mengirim pengiriman ngirim kurir ongkir batal dibatalkan batalkan batalin cancelin
    pembatalan retur diretur kembalikan pengembalian balikin dana uang duit cair rusak hilang
    salah alamat ganti ubah nomor resi lacak cek dicek ngecek banget bgt sekali juga lagi masih
    baru kemarin kemaren besok hari minggu bulan berapa gratis harga murah mahal ukuran warna
    stok tersedia beli dibeli membeli jual bicara ngomong omong orang manusia bantu bantuan
    tanya nanya sama aja saja punya akan sedang jadi karena soalnya kalau kalo klo gitu begitu
    dapat dapet kurang lebih tunggu ditunggu nunggu cepat lambat terlambat telat
    sekarang nanti tadi udahan mana dimana kemana bagaimanakah sudahkah
    kah lah kan dah ane silakan silahkan maaf permisi hubungi sambungkan pakai pake oke siap
    pesenan sya kpn brp trs terus krn tp jg lg gmna gmana knapa emg emang bener
""".split())

# Indonesian words that English chat uses too: half a vote each.
SHARED_WORDS = frozenset("ya min di ke dan ada lama ga sis no bs".split())

ENGLISH_WORDS = frozenset("""
    i me my mine you your yours we our us they them he she him her it its the a an this that
    these those is are was were be been being am do does did done can could would should will
    shall may might must have has had what where when why how who which whom there here
    to of in on for with and or but not yes yeah yep nope please pls plz thanks thank hi hello
    hey want need get got still yet just from at by about if so any some all cancel return
    track tracking shipped shipping delivered delivery arrived arrive parcel package money paid
    pay payment help human person talk speak agent wrong late address change buy bought size
    item items stuff since ago week weeks day days today tomorrow yesterday hasn haven isn
    don doesn didn wasn aren won couldn wouldn shouldn im ive dont cant wont didnt isnt hasnt
    haven t s m ll ve re d again back sent send received receive never ever nothing anything
    much many more very too also only up out off over into like know think see look please
    ordered exchange broken damaged lost charged twice bye goodbye sorry good great
""".split())

_WORD = re.compile(r"[a-z]+")


def _votes(text: str) -> Tuple[float, float]:
    """The message's Indonesian and English votes."""
    indonesian = english = 0.0
    for word in _WORD.findall(text.lower()):
        if word in INDONESIAN_WORDS or (len(word) > 4 and word.endswith("nya")):  # barangnya, pesanannya
            indonesian += 1
        elif word in SHARED_WORDS:
            indonesian += 0.5
        elif word in ENGLISH_WORDS:
            english += 1
    return indonesian, english


def language_of(text: str) -> str:
    """`id` for a message in Indonesian, else `en` (also for messages with no words)."""
    return _language_by_votes(*_votes(text))


def _language_by_votes(indonesian: float, english: float) -> str:
    return INDONESIAN if indonesian >= 1 and indonesian > english else ENGLISH


def clear_language_of(text: str) -> Optional[str]:
    """`id` for a message in Indonesian, `en` for one clearly in English (two English words and
    at most one word both languages use: "where is my order", "no, I want a refund"), else
    None: "ok", "thanks", "100001" and mixed messages say nothing about the language a shopper reads."""
    indonesian, english = _votes(text)
    if _language_by_votes(indonesian, english) == INDONESIAN:
        return INDONESIAN
    return ENGLISH if english >= 2 and indonesian <= 0.5 else None


def browser_language(accept_language: str) -> Optional[str]:
    """The language of ours a browser prefers, from its Accept-Language header
    ("id-ID,id;q=0.9,en-US;q=0.8": `id`), or None if it names neither."""
    ranked = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.split("-")[0].strip().lower()
        primary = INDONESIAN if primary == "in" else primary  # the old code for Indonesian
        if primary in (INDONESIAN, ENGLISH) and quality > 0:
            ranked.append((-quality, position, primary))
    return min(ranked)[2] if ranked else None


# Chat Indonesian in the words of written Indonesian, which the multilingual sentence encoders
# read better: "ga" is a question tag or "not", and the encoders read it as the English-chat
# "no" ("data saya aman ga" came out as a "no"). Forms of address and particles carry no meaning.
STANDARD_WORDS = {
    "ga": "tidak", "gak": "tidak", "gk": "tidak", "nggak": "tidak", "ngga": "tidak", "enggak": "tidak",
    "engga": "tidak", "tdk": "tidak", "udah": "sudah", "udh": "sudah", "sdh": "sudah", "blm": "belum",
    "gimana": "bagaimana", "gmn": "bagaimana", "gmna": "bagaimana", "gmana": "bagaimana", "pake": "pakai",
    "aja": "saja", "brp": "berapa", "kpn": "kapan", "knp": "kenapa", "knapa": "kenapa", "yg": "yang",
    "dgn": "dengan", "utk": "untuk", "sy": "saya", "sya": "saya", "aku": "saya", "gue": "saya", "gw": "saya",
    "trs": "terus", "tp": "tapi", "jg": "juga", "lg": "lagi", "krn": "karena", "kalo": "kalau", "klo": "kalau",
    "msh": "masih", "dmn": "di mana", "dlm": "dalam", "td": "tadi", "dtg": "datang", "sm": "sama",
    "pesenan": "pesanan", "orderan": "pesanan", "brg": "barang", "sampe": "sampai", "nyampe": "sampai",
    "dapet": "dapat", "kemaren": "kemarin", "ngirim": "mengirim", "nunggu": "menunggu", "bs": "bisa",
    "bgt": "sekali", "banget": "sekali", "ongkir": "ongkos kirim", "batalin": "batalkan",
    "balikin": "kembalikan", "duit": "uang", "emang": "memang", "emg": "memang", "bener": "benar",
    "pengen": "ingin", "ngomong": "bicara", "nanya": "bertanya", "ngecek": "mengecek",
}
FILLER_WORDS = frozenset("kak kakak kk min mimin gan agan sis sist sista dong deh sih nih tuh yaa".split())
# Words only, not the parts of an e-mail address, an order number or "2x"; a doubled word
# written with a 2 ("blm dikirim2": "not sent yet, still") as the word.
_CHAT_WORD = re.compile(r"(?<![\w@.])([A-Za-z]+)2?(?![\w@])")


def standard_indonesian(text: str) -> str:
    """An Indonesian message in written Indonesian's words ("paket sy udh dmn ya kak": "paket saya
    sudah di mana ya"); any other message as it is."""
    if language_of(text) != INDONESIAN:
        return text

    def standard(match: "re.Match[str]") -> str:
        word = match.group(1).lower()
        return "" if word in FILLER_WORDS else STANDARD_WORDS.get(word, match.group(1))

    standardised = " ".join(_CHAT_WORD.sub(standard, text).split())
    return re.sub(r"\s+([?!.,])", r"\1", standardised) or text
