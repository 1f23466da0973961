from aiohttp import web

from bot.web import admin, agent, auth, storefront, views
from bot.web import report as seller_report


def setup_routes(app: web.Application) -> None:
    router = app.router
    # The demo storefront, the chat widget's script and look, the storefront chat's API, health.
    router.add_get("/", storefront.storefront_page, name="storefront")
    router.add_get("/widget.js", storefront.widget_script, name="widget_script")
    router.add_get("/api/chat/widget", storefront.widget_look, name="widget_look")
    router.add_get("/health", views.health, name="health")
    router.add_post("/api/chat", views.chat_message, name="chat_message")
    router.add_get("/api/chat/updates", views.chat_updates, name="chat_updates")
    router.add_get("/api/chat/history", views.chat_history, name="chat_history")
    # Staff login, shared by sellers and agents.
    router.add_get("/login", auth.login_page, name="login")
    router.add_post("/login", auth.login)
    router.add_post("/logout", auth.logout, name="logout")
    router.add_get("/api/me", auth.me, name="me")
    # The seller's admin page.
    router.add_get("/admin", admin.faq_list, name="admin")
    router.add_get("/admin/try", admin.try_question, name="try_question")
    router.add_get("/admin/faqs/new", admin.new_faq_form, name="new_faq")
    router.add_post("/admin/faqs/new", admin.save_faq)
    router.add_get("/admin/faqs/{faq_id}", admin.edit_faq_form, name="faq")
    router.add_post("/admin/faqs/{faq_id}", admin.save_faq)
    router.add_post("/admin/faqs/{faq_id}/enabled", admin.set_faq_enabled)
    router.add_post("/admin/faqs/{faq_id}/delete", admin.delete_faq)
    router.add_post("/admin/welcome-text", admin.save_welcome_text)
    router.add_post("/admin/welcome-faqs", admin.save_welcome_faqs)
    router.add_get("/admin/history", admin.history, name="history")
    router.add_post("/admin/history/{revision_id:\\d+}/revert", admin.revert)
    router.add_get("/admin/hours", admin.working_hours, name="hours")
    router.add_post("/admin/hours", admin.save_working_hours)
    router.add_get("/admin/unanswered", admin.unanswered, name="unanswered")
    router.add_get("/admin/widget", admin.widget_look, name="widget")
    router.add_post("/admin/widget", admin.save_widget_look)
    router.add_post("/admin/unanswered/{message_id:\\d+}/dismiss", admin.dismiss_unanswered)
    router.add_get("/api/admin/training", admin.training_status, name="training")
    # The seller's performance dashboard.
    router.add_get("/admin/report", seller_report.report_page, name="report")
    router.add_get("/admin/report.csv", seller_report.report_csv, name="report_csv")
    # The support agents' console.
    router.add_get("/agent", agent.console, name="agent")
    router.add_get("/api/agent/tickets", agent.tickets)
    router.add_get("/api/agent/tickets/{ticket_id:\\d+}", agent.ticket)
    router.add_post("/api/agent/tickets/{ticket_id:\\d+}/claim", agent.claim)
    router.add_post("/api/agent/tickets/{ticket_id:\\d+}/release", agent.release)
    router.add_post("/api/agent/tickets/{ticket_id:\\d+}/reply", agent.reply)
    router.add_post("/api/agent/tickets/{ticket_id:\\d+}/resolve", agent.resolve)
    router.add_get("/api/agent/stream", agent.stream)
    # Answer recommendations, for agents and sellers.
    router.add_post("/api/recommendations", views.recommendations, name="recommendations")
