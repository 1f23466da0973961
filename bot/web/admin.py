"""The seller's admin page: FAQs, Chat Welcome, history, unanswered messages, try-it box,
working hours, the chat widget's look."""
from typing import Dict

from aiohttp import web

from bot.shop import db
from bot.shop.db import SELLER, transaction, utcnow
from bot.errors import Conflict, InvalidInput, NotFound
from bot.faq.store import CATEGORIES, Faq, faq_version, text_version
from bot.faq.editor import WELCOME_SETTINGS, FaqEditor, faq_from_form
from bot.shop.hours import BOT_MODES, WEEKDAYS, WorkingHours, describe_opening, format_intervals, is_open, next_opening
from bot.language import language_of
from bot.rasa.recommendations import faq_ranking
from bot.rasa.responses import fill_response
from bot.shop.settings import WIDGET_COLOUR, WIDGET_POSITIONS, SettingsError
from bot.web.auth import staff_user
from bot.web.resources import CONFIG, FAQ_STORE, RASA, RESPONSES, SHOP, TRAINER
from bot.web.templating import render


def _editor(request: web.Request) -> FaqEditor:
    return FaqEditor(request.app[CONFIG].faq_dir, request.app[SHOP])


def _after_edit(request: web.Request, results, notice: str) -> web.HTTPSeeOther:
    """The redirect to the FAQ list with `notice`, for the view to raise; a retrain first if an edit needs one."""
    if any(result.retrain for result in results):
        request.app[TRAINER].request()
        notice += " The bot is being retrained to understand it; the answer text is live already."
    return web.HTTPSeeOther(request.app.router["admin"].url_for().with_query(notice=notice))


async def faq_list(request: web.Request, error: str = "", status: int = 200, tried: Dict = None) -> web.Response:
    await staff_user(request, SELLER)
    editor = _editor(request)
    query, category = request.query.get("q", ""), request.query.get("category", "")
    faqs = editor.search(query, category)
    welcomes = {language: editor.chat_welcome(language) for language in WELCOME_SETTINGS}
    return render(
        request, "admin_faqs.html", status=status, faqs=faqs, versions={faq.id: faq_version(faq) for faq in faqs},
        query=query, category=category, categories=CATEGORIES, notice=request.query.get("notice", ""), error=error,
        welcomes=welcomes, welcome_versions={language: text_version(text) for language, text in welcomes.items()},
        training=request.app[TRAINER].status, tried=tried,
    )


def _form_fields(faq: Faq) -> Dict:
    return {
        "id": faq.id, "category": faq.category, "question": faq.question, "similar": "\n".join(faq.similar),
        "answer": faq.answer, "answer_id": faq.answer_id, "question_id": faq.question_id, "buttons": "\n".join(" | ".join(filter(None, (b.title, b.payload, b.title_id))) for b in faq.buttons),
        "enabled": faq.enabled, "welcome": faq.welcome,
    }


async def new_faq_form(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    # `?question=...&question=...` (the dashboard's groups of unanswered messages): the first is the
    # question, the others its other phrasings.
    questions = [" ".join(text.split()) for text in request.query.getall("question", []) if text.strip()]
    blank = Faq(id="", category=CATEGORIES[-1], question=questions[0] if questions else "", similar=tuple(questions[1:]), answer="")
    return render(request, "admin_faq_form.html", is_new=True, form=_form_fields(blank), version="", categories=CATEGORIES, error="")


async def edit_faq_form(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    faq = _editor(request).get(request.match_info["faq_id"])
    return render(request, "admin_faq_form.html", is_new=False, form=_form_fields(faq), version=faq_version(faq), categories=CATEGORIES, error="")


async def save_faq(request: web.Request) -> web.Response:
    user = await staff_user(request, SELLER)
    form = await request.post()
    faq_id = request.match_info.get("faq_id") or str(form.get("id", ""))
    is_new = "faq_id" not in request.match_info
    editor = _editor(request)
    try:
        faq = faq_from_form(form, faq_id)
        result = editor.create(faq, user.username) if is_new else editor.update(faq, str(form.get("version", "")), user.username)
    except (InvalidInput, Conflict) as error:
        # Shown above the seller's own input, so nothing typed is lost.
        fields = {
            **{name: form.get(name, "") for name in ("category", "question", "question_id", "similar", "answer", "answer_id", "buttons")},
            "enabled": form.get("enabled") == "on", "welcome": form.get("welcome") == "on", "id": faq_id,
        }
        status = 409 if isinstance(error, Conflict) else 400
        return render(
            request, "admin_faq_form.html", status=status, is_new=is_new, form=fields,
            version=form.get("version", ""), categories=CATEGORIES, error=str(error),
        )
    raise _after_edit(request, [result], f"FAQ {faq_id} saved.")


async def set_faq_enabled(request: web.Request) -> web.Response:
    user = await staff_user(request, SELLER)
    form = await request.post()
    enabled = form.get("enabled") == "on"
    faq_id = request.match_info["faq_id"]
    result = _editor(request).set_enabled(faq_id, enabled, str(form.get("version", "")), user.username)
    raise _after_edit(request, [result], f"FAQ {faq_id} {'enabled' if enabled else 'disabled'}.")


async def delete_faq(request: web.Request) -> web.Response:
    user = await staff_user(request, SELLER)
    form = await request.post()
    faq_id = request.match_info["faq_id"]
    result = _editor(request).delete(faq_id, str(form.get("version", "")), user.username)
    raise _after_edit(request, [result], f"FAQ {faq_id} deleted; the history can bring it back.")


async def save_welcome_text(request: web.Request) -> web.Response:
    user = await staff_user(request, SELLER)
    form = await request.post()
    _editor(request).set_chat_welcome(
        str(form.get("text", "")), str(form.get("version", "")), user.username, str(form.get("language", "en")),
    )
    raise _after_edit(request, [], "Welcome text saved; new conversations start with it.")


async def save_welcome_faqs(request: web.Request) -> web.Response:
    user = await staff_user(request, SELLER)
    form = await request.post()
    results = _editor(request).set_welcome([str(value) for value in form.getall("welcome", [])], user.username)
    raise _after_edit(request, results, "Welcome buttons saved.")


async def history(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    return render(
        request, "admin_history.html", revisions=_editor(request).revisions(),
        notice=request.query.get("notice", ""), error=request.query.get("error", ""),
    )


async def revert(request: web.Request) -> web.Response:
    user = await staff_user(request, SELLER)
    revision_id = int(request.match_info["revision_id"])
    result = _editor(request).revert(revision_id, user.username)
    if result.retrain:
        request.app[TRAINER].request()
    raise web.HTTPSeeOther(request.app.router["history"].url_for().with_query(notice=f"Revision {revision_id} reverted."))


async def try_question(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    question = request.query.get("q", "")
    app = request.app
    parse = await app[RASA].parse(question)
    matches = faq_ranking(parse, app[FAQ_STORE])[:3]
    intent = parse.get("intent") or {}
    language = language_of(question)  # as the bot would answer a shopper who wrote it
    if intent.get("name") == "faq" and matches:
        answer = matches[0][0].answer_in(language)
    elif intent.get("name") == "nlu_fallback":
        answer = fill_response(app[RESPONSES], "utter_not_sure", {}, language)
    else:
        answer = f"(the {intent.get('name')} conversation flow, not a FAQ)"
    tried = {
        "question": question, "answer": answer, "matches": matches,
        "intent": intent.get("name"), "intent_confidence": float(intent.get("confidence") or 0.0),
    }
    return await faq_list(request, tried=tried)


async def unanswered(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    shop = request.app[SHOP]
    with shop.sessions() as session:
        messages = db.unanswered_messages(session, shop.shop_id)
    return render(request, "admin_unanswered.html", messages=messages)


async def dismiss_unanswered(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    shop = request.app[SHOP]
    with transaction(shop.sessions) as session:
        message = session.get(db.UnansweredMessage, int(request.match_info["message_id"]))
        if message is None or message.shop_id != shop.shop_id:
            raise NotFound("There is no such message.")
        message.dismissed = True
    raise web.HTTPSeeOther("/admin/unanswered")


async def training_status(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    return web.json_response(request.app[TRAINER].status.as_json())


def _hours_fields(hours: WorkingHours) -> Dict:
    return {
        "bot_mode": hours.bot_mode, "timezone": hours.timezone,
        "timeout": f"{hours.agent_reply_timeout.total_seconds() / 60:g}",
        **{day: ", ".join(format_intervals(hours.weekly[i])) for i, day in enumerate(WEEKDAYS)},
        "exceptions": "\n".join(
            f"{day.isoformat()}: {', '.join(format_intervals(intervals)) or 'closed'}"
            for day, intervals in sorted(hours.exceptions.items())
        ),
    }


def _hours_document(form) -> Dict:
    """The `working_hours` section of shop.yml from the form; shop.yml's own checks validate it."""
    def intervals(text: str):
        return [part.strip() for part in text.split(",") if part.strip() and part.strip().lower() != "closed"]

    exceptions = {}
    for line in str(form.get("exceptions", "")).splitlines():
        if line.strip():
            day, separator, hours = line.partition(":")
            if not separator:
                raise InvalidInput(f"Exception {line.strip()!r}: write it as `2026-12-25: closed` or `2026-11-27: 08:00-22:00`.")
            exceptions[day.strip()] = intervals(hours)
    try:
        timeout = float(form.get("timeout", "3"))
    except ValueError as error:
        raise InvalidInput("The agents' reply time must be a number of minutes.") from error
    return {
        "timezone": str(form.get("timezone", "")).strip(), "bot_mode": str(form.get("bot_mode", "")),
        "agent_reply_timeout_minutes": timeout,
        "weekly": {day: intervals(str(form.get(day, ""))) for day in WEEKDAYS},
        "exceptions": exceptions,
    }


async def working_hours(request: web.Request, fields: Dict = None, error: str = "", status: int = 200) -> web.Response:
    await staff_user(request, SELLER)
    hours = request.app[SHOP].settings.working_hours
    now = utcnow()
    opening = next_opening(hours, now)
    return render(
        request, "admin_hours.html", status=status, form=fields or _hours_fields(hours), weekdays=WEEKDAYS, modes=BOT_MODES,
        open_now=is_open(hours, now), next_opening=describe_opening(opening, now) if opening else "never",
        notice=request.query.get("notice", ""), error=error,
    )


async def save_working_hours(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    form = await request.post()
    try:
        request.app[SHOP].settings_file.write("working_hours", _hours_document(form))
    except (InvalidInput, SettingsError) as error:
        return await working_hours(request, fields=dict(form), error=f"Not saved: {error}", status=400)
    raise web.HTTPSeeOther(request.app.router["hours"].url_for().with_query(notice="Working hours saved; they apply at once."))


def _widget_tag(request: web.Request) -> str:
    """The script tag a seller pastes into their store's pages."""
    return f'<script src="{request.scheme}://{request.host}/widget.js" async></script>'


async def widget_look(request: web.Request, fields: Dict = None, error: str = "", status: int = 200) -> web.Response:
    await staff_user(request, SELLER)
    look = request.app[SHOP].settings.widget
    form = fields or look.as_json()
    # The preview shows a refused colour as the one in service.
    preview_colour = form["colour"].lower() if WIDGET_COLOUR.fullmatch(form["colour"]) else look.colour
    return render(
        request, "admin_widget.html", status=status, form=form, positions=WIDGET_POSITIONS, preview_colour=preview_colour,
        script_tag=_widget_tag(request), notice=request.query.get("notice", ""), error=error,
    )


async def save_widget_look(request: web.Request) -> web.Response:
    await staff_user(request, SELLER)
    form = await request.post()
    fields = {name: str(form.get(name, "")).strip() for name in ("title", "colour", "position")}
    try:
        request.app[SHOP].settings_file.write("widget", fields)
    except SettingsError as error:
        return await widget_look(request, fields=fields, error=f"Not saved: {error}", status=400)
    raise web.HTTPSeeOther(
        request.app.router["widget"].url_for().with_query(notice="Chat widget saved; store pages show it at their next load.")
    )
