"""The words of Parley's emails and email-link pages, in the languages a site may have ("en", "zh-hans").

Kept here rather than in locale/: the same shape as the widget's static/widget/i18n.js, and a text
needs no compiled catalogue to ship. `{name}` placeholders are filled by `text()`.
"""

from __future__ import annotations

LANGUAGES = ("en", "zh-hans")

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "followup.subject": "{site} replied to your conversation",
        "followup.heading": "You have a new reply from {site}",
        "followup.intro": "While you were away, {site} wrote:",
        "followup.button": "Continue the conversation",
        "followup.note": "The button opens this conversation for 30 days. Answers by email do not reach us yet.",
        "transcript.subject": "Your conversation with {site}",
        "transcript.heading": "Your conversation with {site}",
        "transcript.intro": "As you asked, here is the conversation.",
        "assigned.subject": "Conversation #{id} was assigned to you",
        "assigned.heading": "A conversation was assigned to you",
        "assigned.intro": "{visitor} is waiting on {site}. No dashboard of yours was open, so here it is by email.",
        "assigned.last": "Their last message:",
        "assigned.button": "Open it in the desk",
        "assigned.reason": "You get this because email when offline is on for you. Unsubscribe to turn it off.",
        "confirm.subject": "Confirm your email address for {site}",
        "confirm.heading": "Please confirm your address",
        "confirm.intro": "You left {email} in a chat with {site}. Confirm it, and they can answer by email when you "
        "are away.",
        "confirm.button": "Confirm my address",
        "confirm.ignore": "Did not ask for this? Ignore this email: nothing else will be sent to you.",
        "footer.why": "You get this email because of your chat with {site}.",
        "footer.unsubscribe": "Unsubscribe",
        "author.customer": "You",
        "author.bot": "Assistant",
        "author.agent": "Support",
        "author.system": "Note",
        "visitor.someone": "A customer",
        "page.invalid.title": "This link does not work",
        "page.invalid.body": "It has expired or was changed. You can ask for a new one in the chat.",
        "page.confirmed.title": "Address confirmed",
        "page.confirmed.body": "Thank you. {site} can now answer you at {email} when you are away.",
        "page.unsubscribe.title": "Unsubscribe",
        "page.unsubscribe.body": "Stop emails from {site} to {email}?",
        "page.unsubscribe.agent": "Stop emails about conversations assigned to you while you are offline?",
        "page.unsubscribe.button": "Unsubscribe",
        "page.unsubscribed.title": "You are unsubscribed",
        "page.unsubscribed.body": "{site} will not email {email} about your conversations any more.",
        "page.unsubscribed.agent": "You will not get emails about conversations assigned while you are offline. "
        "An administrator can turn them back on in your agent profile.",
        "page.open.title": "Opening your conversation…",
        "page.open.body": "If the chat does not open, use this link:",
        "page.open.link": "Open the chat",
        "page.open.verified": "Sign in on {site} to continue this conversation.",
    },
    "zh-hans": {
        "followup.subject": "{site} 回复了您的对话",
        "followup.heading": "{site} 给您发来了新回复",
        "followup.intro": "您离开后，{site} 写道：",
        "followup.button": "继续对话",
        "followup.note": "按钮在 30 天内可打开此对话。目前还不能通过回复邮件与我们交流。",
        "transcript.subject": "您与 {site} 的对话记录",
        "transcript.heading": "您与 {site} 的对话记录",
        "transcript.intro": "这是您要求发送的对话记录。",
        "assigned.subject": "对话 #{id} 已分配给您",
        "assigned.heading": "有一个对话分配给了您",
        "assigned.intro": "{visitor} 正在 {site} 等待回复。您当时没有打开工作台，因此通过邮件通知您。",
        "assigned.last": "对方的最后一条消息：",
        "assigned.button": "在工作台中打开",
        "assigned.reason": "您开启了离线邮件通知，所以收到此邮件。退订即可关闭。",
        "confirm.subject": "确认您在 {site} 留下的邮箱地址",
        "confirm.heading": "请确认您的邮箱地址",
        "confirm.intro": "您在与 {site} 的聊天中留下了 {email}。确认后，您离开时对方可以通过邮件回复您。",
        "confirm.button": "确认邮箱地址",
        "confirm.ignore": "如果这不是您的操作，请忽略此邮件，我们不会再给您发送任何内容。",
        "footer.why": "您收到此邮件，是因为您与 {site} 进行过聊天。",
        "footer.unsubscribe": "退订",
        "author.customer": "您",
        "author.bot": "智能助手",
        "author.agent": "客服",
        "author.system": "提示",
        "visitor.someone": "一位客户",
        "page.invalid.title": "此链接无效",
        "page.invalid.body": "链接已过期或被修改。您可以在聊天中重新获取。",
        "page.confirmed.title": "邮箱已确认",
        "page.confirmed.body": "谢谢。您离开时，{site} 可以通过 {email} 回复您。",
        "page.unsubscribe.title": "退订",
        "page.unsubscribe.body": "停止 {site} 发往 {email} 的邮件？",
        "page.unsubscribe.agent": "停止接收离线时分配给您的对话的邮件通知？",
        "page.unsubscribe.button": "退订",
        "page.unsubscribed.title": "您已退订",
        "page.unsubscribed.body": "{site} 不会再就您的对话给 {email} 发送邮件。",
        "page.unsubscribed.agent": "您将不再收到离线时分配给您的对话的邮件。管理员可以在您的客服资料中重新开启。",
        "page.open.title": "正在打开您的对话…",
        "page.open.body": "如果聊天没有打开，请使用此链接：",
        "page.open.link": "打开聊天",
        "page.open.verified": "请在 {site} 登录后继续此对话。",
    },
}


def language_of(site_language: str) -> str:
    """The language of a site's emails: any zh is Simplified Chinese, anything else English."""
    return "zh-hans" if (site_language or "").strip().lower().startswith("zh") else "en"


def text(language: str, key: str, **values: object) -> str:
    """One text in `language` (English when it has none), its placeholders filled."""
    template = TEXTS.get(language, TEXTS["en"]).get(key) or TEXTS["en"][key]
    return template.format(**values) if values else template


def texts(language: str, prefix: str, **values: object) -> dict[str, str]:
    """Every text under `prefix.` (and the footer's), keyed without the prefix, for a template."""
    keys = [key for key in TEXTS["en"] if key.startswith((prefix + ".", "footer."))]
    return {key.split(".", 1)[1].replace(".", "_"): _fill(text(language, key), values) for key in keys}


def _fill(template: str, values: dict) -> str:
    """Fill the placeholders a text has; texts without some of `values` ignore them."""
    try:
        return template.format(**values)
    except (KeyError, IndexError):
        return template
