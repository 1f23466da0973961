"""Edits to the seller's FAQ files from the admin page.

Every edit is validated as a whole (the same rules as `make train`), written
atomically (a temporary file renamed over the old one), and recorded as a
FaqRevision holding the FAQ before and after, so that any change can be
reverted. Each edit names the version of the FAQ the seller started from; if
the FAQ has changed since, the edit is refused instead of overwriting it.
"""
import json
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional

from sqlalchemy import select

from bot.files import write_atomically
from bot.shop.context import ShopContext
from bot.shop.db import FaqRevision, transaction
from bot.errors import Conflict, InvalidInput, NotFound
from bot.faq.store import (
    CATEGORIES, Button, Faq, FaqValidationError, faq_to_dict, faq_version, load_faqs, render_faq_file, text_version,
)
from bot.shop.settings import SettingsError

# The welcome text's setting in shop.yml per language, also its revision subject: English,
# and Indonesian (optional: without it, Indonesian shoppers get the English text).
CHAT_WELCOME = "chat_welcome"
WELCOME_SETTINGS = {"en": CHAT_WELCOME, "id": "chat_welcome_id"}
# Fields whose change alters the training data: the model must be retrained.
TRAINED_FIELDS = ("question", "similar", "enabled")


@dataclass(frozen=True)
class EditResult:
    faq_id: str
    retrain: bool  # the bot understands the change only after a retrain


def faq_from_form(form: Dict[str, str], faq_id: str) -> Faq:
    """A FAQ from the admin form's fields (one similar question or button per line: title,
    payload and, if wanted, the Indonesian title)."""
    buttons = []
    for line in (form.get("buttons") or "").splitlines():
        if line.strip():
            title, payload, title_id, *rest = [*(part.strip() for part in line.split("|")), "", ""]
            if not title or not payload or any(rest):
                raise InvalidInput(
                    f"Button line {line.strip()!r}: write it as `Title | /payload or https://link`, "
                    "with `| Indonesian title` after it if you like."
                )
            buttons.append(Button(title, payload, title_id))
    return Faq(
        id=faq_id.strip(),
        category=(form.get("category") or "").strip(),
        question=(form.get("question") or "").strip(),
        similar=tuple(line.strip() for line in (form.get("similar") or "").splitlines() if line.strip()),
        answer=(form.get("answer") or "").replace("\r\n", "\n").strip(),
        answer_id=(form.get("answer_id") or "").replace("\r\n", "\n").strip(),
        question_id=(form.get("question_id") or "").strip(),
        buttons=tuple(buttons),
        enabled=form.get("enabled") in ("on", "true", "1"),
        welcome=form.get("welcome") in ("on", "true", "1"),
    )


def _as_json(faq: Optional[Faq]) -> Optional[str]:
    return None if faq is None else json.dumps({"category": faq.category, **faq_to_dict(faq)}, sort_keys=True)


def _from_json(text: Optional[str]) -> Optional[Faq]:
    if text is None:
        return None
    item = json.loads(text)
    return Faq(
        id=item["id"], category=item["category"], question=item["question"], similar=tuple(item["similar"]),
        answer=item["answer"], answer_id=item.get("answer_id", ""),
        question_id=item.get("question_id", ""), buttons=tuple(Button.from_dict(b) for b in item.get("buttons", [])),
        enabled=item["enabled"], welcome=item["welcome"],
    )


class FaqEditor:
    """The FAQ files in `faq_dir` and the Chat Welcome text (shop.yml) of `shop`, whose database
    keeps the revisions."""

    def __init__(self, faq_dir: Path, shop: ShopContext):
        self.faq_dir = Path(faq_dir)
        self.shop = shop
        # Looked up before any file is written: without the shop in the database, an edit is
        # refused whole rather than written without its revision.
        self.shop_id = shop.shop_id

    # Reading

    def faqs(self) -> List[Faq]:
        try:
            return load_faqs(self.faq_dir)
        except FaqValidationError as error:
            raise InvalidInput(
                "The FAQ files on disk do not validate; fix them before editing here:\n" + "\n".join(error.problems)
            ) from error

    def search(self, query: str = "", category: str = "") -> List[Faq]:
        words = query.lower().split()
        return [
            faq for faq in self.faqs()
            if (not category or faq.category == category)
            and all(word in " ".join((faq.id, faq.question, faq.answer, *faq.similar)).lower() for word in words)
        ]

    def get(self, faq_id: str) -> Faq:
        for faq in self.faqs():
            if faq.id == faq_id:
                return faq
        raise NotFound(f"There is no FAQ {faq_id!r}.")

    def revisions(self, limit: int = 50) -> List[FaqRevision]:
        with self.shop.sessions() as session:
            query = (
                select(FaqRevision).where(FaqRevision.shop_id == self.shop_id)
                .order_by(FaqRevision.id.desc()).limit(limit)
            )
            return list(session.execute(query).scalars())

    # Editing

    def create(self, faq: Faq, author: str) -> EditResult:
        if any(existing.id == faq.id for existing in self.faqs()):
            raise Conflict(f"A FAQ with the id {faq.id!r} already exists; choose another id.")
        return self._change(None, faq, "create", author)

    def update(self, faq: Faq, expected_version: str, author: str) -> EditResult:
        return self._change(self._current(faq.id, expected_version), faq, "edit", author)

    def set_enabled(self, faq_id: str, enabled: bool, expected_version: str, author: str) -> EditResult:
        current = self._current(faq_id, expected_version)
        return self._change(current, replace(current, enabled=enabled), "enable" if enabled else "disable", author)

    def delete(self, faq_id: str, expected_version: str, author: str) -> EditResult:
        return self._change(self._current(faq_id, expected_version), None, "delete", author)

    def set_welcome(self, welcome_ids: List[str], author: str) -> List[EditResult]:
        """Make exactly these FAQs the welcome buttons (at most 5, checked by validation)."""
        chosen = set(welcome_ids)
        faqs = self.faqs()
        unknown = chosen - {faq.id for faq in faqs}
        if unknown:
            raise NotFound(f"There is no FAQ {', '.join(sorted(unknown))}.")
        changed = [replace(faq, welcome=faq.id in chosen) for faq in faqs if faq.welcome != (faq.id in chosen)]
        # Checked once, for all of them: one FAQ at a time would pass through states with 6 welcome FAQs.
        self._write({faq.id: faq for faq in changed}, faqs)
        with transaction(self.shop.sessions) as session:
            for faq in changed:
                session.add(FaqRevision(
                    shop_id=self.shop_id, subject=faq.id, action="edit", author=author,
                    before=_as_json(replace(faq, welcome=not faq.welcome)), after=_as_json(faq),
                ))
        return [EditResult(faq.id, retrain=False) for faq in changed]

    def chat_welcome(self, language: str = "en") -> str:
        return getattr(self.shop.settings, WELCOME_SETTINGS[language])

    def set_chat_welcome(self, text: str, expected_version: str, author: str, language: str = "en") -> None:
        if language not in WELCOME_SETTINGS:
            raise InvalidInput(f"There is no welcome text in {language!r}; there are: {', '.join(WELCOME_SETTINGS)}.")
        current = self.chat_welcome(language)
        if text_version(current) != expected_version:
            raise Conflict(
                "The welcome text was changed by someone else since you opened it. "
                "Your text was not saved: reload the page, then apply it again."
            )
        self._write_chat_welcome(WELCOME_SETTINGS[language], current, text.replace("\r\n", "\n").strip(), "edit", author)

    def revert(self, revision_id: int, author: str) -> EditResult:
        """Put the FAQ (or welcome text) back as it was before this revision, if nobody changed it since."""
        with self.shop.sessions() as session:
            revision = session.get(FaqRevision, revision_id)
        if revision is None or revision.shop_id != self.shop_id:
            raise NotFound(f"There is no FAQ revision {revision_id}.")
        if revision.subject in WELCOME_SETTINGS.values():
            current = getattr(self.shop.settings, revision.subject)
            if json.dumps(current) != revision.after:
                raise Conflict(f"The welcome text has changed since revision {revision_id}; revert the later revisions first.")
            self._write_chat_welcome(revision.subject, current, json.loads(revision.before), "revert", author)
            return EditResult(revision.subject, retrain=False)
        current = next((faq for faq in self.faqs() if faq.id == revision.subject), None)
        if _as_json(current) != revision.after:
            raise Conflict(
                f"FAQ {revision.subject!r} has changed since revision {revision_id}; "
                "revert the later revisions first, newest first."
            )
        return self._change(current, _from_json(revision.before), "revert", author)

    # Internals

    def _write_chat_welcome(self, setting: str, before: str, after: str, action: str, author: str) -> None:
        try:
            self.shop.settings_file.write(setting, after)
        except SettingsError as error:
            raise InvalidInput(f"Not saved: {error}") from error
        with transaction(self.shop.sessions) as session:
            session.add(FaqRevision(
                shop_id=self.shop_id, subject=setting, action=action, author=author,
                before=json.dumps(before), after=json.dumps(after),
            ))

    def _current(self, faq_id: str, expected_version: str) -> Faq:
        current = self.get(faq_id)
        if faq_version(current) != expected_version:
            raise Conflict(
                f"FAQ {faq_id!r} was changed by someone else since you opened it. "
                "Your changes were not saved: reload it, then apply them again."
            )
        return current

    def _change(self, before: Optional[Faq], after: Optional[Faq], action: str, author: str) -> EditResult:
        faq_id = (after or before).id
        if after is not None and before is not None and after.id != before.id:
            raise InvalidInput("A FAQ's id cannot change; create a new FAQ instead.")
        self._write({faq_id: after}, self.faqs())
        with transaction(self.shop.sessions) as session:
            session.add(FaqRevision(
                shop_id=self.shop_id, subject=faq_id, action=action, author=author,
                before=_as_json(before), after=_as_json(after),
            ))
        retrain = (
            before is None or after is None
            or any(getattr(before, name) != getattr(after, name) for name in TRAINED_FIELDS)
        )
        return EditResult(faq_id, retrain)

    def _write(self, changes: Dict[str, Optional[Faq]], faqs: List[Faq]) -> None:
        """Apply `changes` (FAQ id -> new FAQ, or None to delete) to the category files."""
        by_category: Dict[str, List[Faq]] = {category: [] for category in CATEGORIES}
        for faq in faqs:
            by_category[faq.category].append(faq)
        touched = {faq.category for faq in faqs if faq.id in changes}
        for faq_id, new in changes.items():
            if new is not None and new.category not in CATEGORIES:
                raise InvalidInput(f"{faq_id}: unknown category {new.category!r} (one of {', '.join(CATEGORIES)}).")
            for category, items in by_category.items():
                position = next((i for i, faq in enumerate(items) if faq.id == faq_id), None)
                if position is not None and (new is None or new.category != category):
                    del items[position]
                elif position is not None:
                    items[position] = new
            if new is not None and all(faq.id != faq_id for faq in by_category[new.category]):
                by_category[new.category].append(new)
                touched.add(new.category)
        texts = {category: render_faq_file(category, by_category[category]) for category in touched}
        self._validate(texts)
        for category, text in texts.items():
            write_atomically(self.faq_dir / f"{category}.yml", text)

    def _validate(self, texts: Dict[str, str]) -> None:
        """Validate the FAQ folder as it would be after writing `texts`, without touching it."""
        with tempfile.TemporaryDirectory() as scratch:
            for path in self.faq_dir.glob("*.yml"):
                shutil.copy(path, scratch)
            for category, text in texts.items():
                Path(scratch, f"{category}.yml").write_text(text, encoding="utf-8")
            try:
                load_faqs(Path(scratch))
            except FaqValidationError as error:
                problems = [problem.replace(scratch, str(self.faq_dir)) for problem in error.problems]
                raise InvalidInput("Not saved:\n" + "\n".join(problems)) from error
