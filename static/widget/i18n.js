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
  "ended.line": "This conversation has ended",
  "rating.title": "How was your conversation?",
  "rating.1": "Very bad (1 of 5)",
  "rating.2": "Bad (2 of 5)",
  "rating.3": "Okay (3 of 5)",
  "rating.4": "Good (4 of 5)",
  "rating.5": "Very good (5 of 5)",
  "rating.comment": "Add a comment (optional)",
  "rating.comment_placeholder": "What went well, or what could be better?",
  "rating.send": "Send",
  "rating.sending": "Sending…",
  "rating.required": "Please choose a face first.",
  "rating.thanks": "Thanks for your feedback",
  "rating.given": "You rated this conversation: {label}",
  "rating.not_resolved": "This conversation is open again; you can rate it once it ends.",
  "rating.not_found": "This conversation can no longer be rated.",
  "rating.failed": "Your rating could not be sent. Please try again.",
  "contact.title": "Get notified by email",
  "contact.text": "Our team isn't available right now. Leave your email and we'll let you know when someone replies.",
  "contact.text_queue": "A team member will be with you soon. Leave your email in case you have to go.",
  "contact.email": "Email address",
  "contact.placeholder": "you@example.com",
  "contact.save": "Save",
  "contact.saving": "Saving…",
  "contact.skip": "Skip",
  "contact.invalid": "Please enter a valid email address.",
  "contact.saved": "We'll email you at {email} (check your inbox to confirm)",
  "contact.saved_confirmed": "We'll email you at {email}",
  "contact.failed": "Your email address could not be saved. Please try again.",
  "menu.open": "More options",
  "menu.transcript": "Email me this conversation",
  "transcript.title": "Email me this conversation",
  "transcript.text": "Where should we send it?",
  "transcript.email": "Your email address",
  "transcript.send": "Send",
  "transcript.cancel": "Cancel",
  "transcript.sending": "Sending the conversation to {email}…",
  "transcript.sending_own": "Sending the conversation to your email…",
  "transcript.sent": "Sent to {email}",
  "transcript.empty": "There's nothing to email yet: write to us first.",
  "transcript.failed": "The conversation could not be emailed. Please try again.",
  "transcript.dismiss": "Dismiss",
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
  "ended.line": "本次对话已结束",
  "rating.title": "您对本次对话满意吗？",
  "rating.1": "很不满意（1/5）",
  "rating.2": "不满意（2/5）",
  "rating.3": "一般（3/5）",
  "rating.4": "满意（4/5）",
  "rating.5": "非常满意（5/5）",
  "rating.comment": "补充评价（可选）",
  "rating.comment_placeholder": "哪些地方做得好，哪些可以改进？",
  "rating.send": "提交",
  "rating.sending": "提交中…",
  "rating.required": "请先选择一个表情。",
  "rating.thanks": "感谢您的反馈",
  "rating.given": "您的评价：{label}",
  "rating.not_resolved": "对话已重新开启，结束后才能评价。",
  "rating.not_found": "此对话已无法评价。",
  "rating.failed": "评价未能提交，请重试。",
  "contact.title": "通过邮件接收通知",
  "contact.text": "我们的客服暂时不在。留下您的邮箱，有人回复时我们会通知您。",
  "contact.text_queue": "客服很快就来。留下邮箱，以防您需要先离开。",
  "contact.email": "电子邮箱",
  "contact.placeholder": "you@example.com",
  "contact.save": "保存",
  "contact.saving": "保存中…",
  "contact.skip": "跳过",
  "contact.invalid": "请输入有效的电子邮箱地址。",
  "contact.saved": "我们会发邮件到 {email}（请查收确认邮件）",
  "contact.saved_confirmed": "我们会发邮件到 {email}",
  "contact.failed": "邮箱未能保存，请重试。",
  "menu.open": "更多选项",
  "menu.transcript": "通过邮件发送本次对话",
  "transcript.title": "通过邮件发送本次对话",
  "transcript.text": "发送到哪个邮箱？",
  "transcript.email": "您的电子邮箱",
  "transcript.send": "发送",
  "transcript.cancel": "取消",
  "transcript.sending": "正在将对话发送到 {email}…",
  "transcript.sending_own": "正在将对话发送到您的邮箱…",
  "transcript.sent": "已发送到 {email}",
  "transcript.empty": "还没有可发送的对话，请先给我们留言。",
  "transcript.failed": "对话未能通过邮件发送，请重试。",
  "transcript.dismiss": "关闭",
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
