"""The bot's own lines, in English and Simplified Chinese, and how the customer's language is told."""

from __future__ import annotations

from chat.ai.retrieval import contains_cjk

ENGLISH, CHINESE = "en", "zh-hans"

_LINES: dict[str, dict[str, str]] = {
    ENGLISH: {
        "unanswered": "I'm not sure about that one: I couldn't find it in our help articles.",
        "offer": "You could put it another way, or talk to a person from our team.",
        "queued_unanswered": "I don't have an answer to that, but our team has your question and will reply here.",
        "queued_note": "Our team has been told as well and will join you here.",
        "handoff": "I'm passing you to a person from our team; they'll reply here.",
        "handoff_asked": "Of course. I'm passing you to a person from our team; they'll reply here.",
        "already_queued": "Our team already has your conversation and will reply here as soon as they can.",
        "away_ask": "Our team is offline right now. Leave your email address here and we'll get back to you.",
        "away_known": "Our team is offline right now; we'll reply to {email} as soon as we're back.",
        "email_thanks": "Thanks! We'll reply to {email}.",
        "email_invalid": "That doesn't look like a complete email address. Could you check it?",
        "email_skipped": "Alright. Keep this chat open and someone will reply here.",
        "clarify": "I want to get this right. Which of these is your question about?",
        "other_language": "I only have this in our Chinese help articles:",
    },
    CHINESE: {
        "unanswered": "抱歉，这个问题我在帮助文章里没有找到答案。",
        "offer": "您可以换个说法再问，或者转接人工客服。",
        "queued_unanswered": "这个问题我暂时回答不了，不过客服团队已经收到您的问题，会在这里回复您。",
        "queued_note": "客服团队也已收到通知，稍后会在这里回复您。",
        "handoff": "我正在为您转接人工客服，请稍候，他们会在这里回复您。",
        "handoff_asked": "好的，我正在为您转接人工客服，请稍候，他们会在这里回复您。",
        "already_queued": "客服团队已经收到您的对话，会尽快在这里回复您。",
        "away_ask": "我们的客服现在不在线。请在这里留下您的电子邮箱，我们会尽快回复您。",
        "away_known": "我们的客服现在不在线，回来后会发邮件到 {email} 回复您。",
        "email_thanks": "谢谢！我们会发邮件到 {email} 回复您。",
        "email_invalid": "这个邮箱地址好像不完整，请再检查一下。",
        "email_skipped": "好的。请保持聊天窗口打开，客服会在这里回复您。",
        "clarify": "为了准确回答，请问您想了解的是下面哪一个？",
        "other_language": "这个问题我们目前只有英文的帮助文章，以下是相关内容：",
    },
}


def line(key: str, language: str, **values: str) -> str:
    """One of the bot's lines in the customer's language (English for any other)."""
    lines = _LINES.get(language, _LINES[ENGLISH])
    return lines[key].format(**values) if values else lines[key]


def language_of(text: str, fallback: str = ENGLISH) -> str:
    """The customer's language as the bot answers it: Chinese when the message has Chinese characters.

    A message with no letters at all ("👍", "12345") says nothing, so the fallback (the language of
    the customer's earlier messages, or the site's) is kept.
    """
    if contains_cjk(text):
        return CHINESE
    if any(char.isalpha() for char in text):
        return ENGLISH
    return fallback if fallback in _LINES else ENGLISH
