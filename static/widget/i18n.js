/**
 * The widget's words in English and Simplified Chinese, and the rule that picks one.
 * Strings that the server renders live in templates/widget/frame.html ({% translate %});
 * these are the ones the script writes at run time.
 */

export const LANGUAGES = ["en", "zh-hans"];

/** One of our languages for a tag ("zh-CN" → "zh-hans", "en-GB" → "en"), or null for one we don't ship. */
function supported(tag) {
  const text = String(tag ?? "").trim().toLowerCase();
  if (text.startsWith("zh")) return "zh-hans";
  return text.startsWith("en") ? "en" : null;
}

/** The site's language when it names one we ship, else the browser's: any "zh…" is Simplified Chinese. */
export function pickLanguage(siteLanguage, browserLanguage) {
  return supported(siteLanguage) ?? (supported(browserLanguage) === "zh-hans" ? "zh-hans" : "en");
}

const en = {
  "status.connecting": "Connecting…",
  "status.reconnecting": "Reconnecting…",
  "status.offline": "You're offline · reconnecting…",
  "status.closed": "Chat is unavailable right now.",
  "status.forbidden": "This page may not use the chat.",
  "presence.online": "Our team is online",
  "presence.bot": "AI assistant replies instantly",
  "presence.away": "We're away — leave a message",
  "presence.queue": "Waiting for a team member…",
  "presence.agent": "{name} from the team",
  "presence.later": "We'll reply as soon as we can",
  "author.you": "You",
  "author.bot": "AI assistant",
  "author.agent": "Team",
  "typing.bot": "{name} is thinking",
  "typing.agent": "{name} is typing",
  "typing.someone": "Someone from the team",
  "message.seen": "Seen",
  "message.sending": "Sending…",
  "message.stopped": "Stopped",
  "message.interrupted": "Interrupted — this answer was cut short.",
  "message.failed": "Sorry, this answer could not be finished.",
  "message.not_sent": "Not sent: {reason}",
  "error.too_long": "Messages are limited to {max} characters.",
  "error.rate_limited": "You're sending messages quickly; they'll go out in a moment.",
  "error.generic": "Something went wrong. Please try again.",
  "launcher.open": "Open chat",
  "launcher.close": "Close chat",
  "quick.label": "Suggested replies",
  "quick.rephrase": "Rephrase",
  "quick.human": "Talk to a person",
  "feedback.ask": "Did that answer your question?",
  "feedback.yes": "Yes, it helped",
  "feedback.no": "No",
  "feedback.thanks": "Thanks for your feedback",
  "feedback.failed": "Your feedback could not be saved. Please try again.",
};

const zhHans = {
  "status.connecting": "正在连接…",
  "status.reconnecting": "正在重新连接…",
  "status.offline": "已离线 · 正在重新连接…",
  "status.closed": "聊天暂时不可用。",
  "status.forbidden": "此页面无法使用聊天。",
  "presence.online": "客服在线",
  "presence.bot": "AI 助手即时回复",
  "presence.away": "我们暂时不在，请留言",
  "presence.queue": "正在等待客服接入…",
  "presence.agent": "客服 {name} 为您服务",
  "presence.later": "我们会尽快回复您",
  "author.you": "我",
  "author.bot": "AI 助手",
  "author.agent": "客服",
  "typing.bot": "{name} 正在思考",
  "typing.agent": "{name} 正在输入",
  "typing.someone": "客服",
  "message.seen": "已读",
  "message.sending": "发送中…",
  "message.stopped": "已停止",
  "message.interrupted": "已中断，这条回答不完整。",
  "message.failed": "抱歉，这条回答未能完成。",
  "message.not_sent": "未发送：{reason}",
  "error.too_long": "每条消息最多 {max} 个字符。",
  "error.rate_limited": "发送太快了，消息将稍后发出。",
  "error.generic": "出了点问题，请重试。",
  "launcher.open": "打开聊天",
  "launcher.close": "关闭聊天",
  "quick.label": "建议回复",
  "quick.rephrase": "换个说法",
  "quick.human": "转人工",
  "feedback.ask": "这个回答有帮助吗？",
  "feedback.yes": "有帮助",
  "feedback.no": "没有帮助",
  "feedback.thanks": "感谢您的反馈",
  "feedback.failed": "反馈未能保存，请重试。",
};

export const CATALOGS = Object.freeze({ en, "zh-hans": zhHans });

/** A translate function for `language`: t("typing.agent", {name}) → text; unknown keys fall back to English. */
export function translator(language) {
  const catalog = CATALOGS[language] ?? en;
  return (key, params = {}) => {
    const template = catalog[key] ?? en[key] ?? key;
    return template.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
  };
}

/** The BCP 47 tag Intl wants for our language codes. */
export function intlLocale(language) {
  return language === "zh-hans" ? "zh-Hans-CN" : "en";
}
