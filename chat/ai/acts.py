"""Conversational acts: a message that is only a greeting, thanks, goodbye, yes, no, or a word about the bot itself.

`detect` recognises a message made up entirely of such phrases, so that the bot answers "hi" with a greeting and
not with a search of the help center. A message that also asks something real is not an act: "hi, how long does
shipping take?" returns None and gets an answer. Each act has one table of regular expressions per language; a
message is an act when it can be cut, from start to end, into phrases of these tables and filler words ("ok",
"please", "bot"). The tables are matched against a normalised message: NFKC, lower case, no punctuation or emoji.
"""

from __future__ import annotations

import enum
import re
import unicodedata


class Act(enum.StrEnum):
    """What a whole customer message does, when it asks nothing."""

    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    YES = "yes"
    NO = "no"
    ARE_YOU_BOT = "are_you_bot"
    NOT_HELPING = "not_helping"
    HUMAN = "human"


# When a message holds two acts, the first of these wins: a request for a person must never be lost behind a
# "thanks", and "thanks, bye" closes the conversation. NO outranks YES so that "ok, no" and "no, it's ok" decline.
PRECEDENCE = (
    Act.HUMAN,
    Act.NOT_HELPING,
    Act.ARE_YOU_BOT,
    Act.GOODBYE,
    Act.THANKS,
    Act.GREETING,
    Act.NO,
    Act.YES,
)

# A bare act is short; anything longer carries content of its own, and the cut below is quadratic in length.
MAX_LENGTH = 120
# No single phrase of the tables is longer, so longer stretches are not tried.
MAX_PHRASE = 60
# "是不是", "好不好", "有没有": a Chinese yes-or-no question is built from a yes and a no, and is neither.
_A_NOT_A = re.compile(r"([^不没])[不没]\1")

# --- English -----------------------------------------------------------------------------------------------------
# Apostrophes are dropped before matching, so "you're" is "youre", "didn't" is "didnt", "I'd" is "id".

_A = r"(?:a |an |the |some |one |your |a real |an actual )?"
# The people a customer asks for.
_STAFF = (
    r"(?:real |live |actual |proper |human )?(?:human(?: being)?s?|person|people|agents?|representative|rep|"
    r"operator|staff|employee|manager|supervisor|team member|member of (?:staff|the team)|"
    r"customer (?:service|support|care)(?: agent| rep| representative| team)?|support (?:team|staff|agent)|support)"
)
_SOMEONE = r"(?:someone|somebody|anyone|anybody)(?: real| else| from (?:the |your )?(?:team|shop|store|staff|support))?"
# The polite openings of a request: "I'd like to", "can I please", "let me".
_ASK = (
    r"(?:(?:i|we) (?:want|need|would like|wanna|wish|d like|would love|demand|have)(?: to)? |id like(?: to)? |"
    r"(?:can|could|may) (?:i|we) (?:please )?|let me |(?:can|could) you (?:please )?|please |pls |plz )?"
)
_WANT = (
    r"(?:(?:i|we) (?:want|need|would like|wanna|d like|demand|require)|id like|(?:can|could|may) (?:i|we) (?:please )?"
    r"(?:have|get|speak with|talk with)|give me|get me|find me|im looking for|looking for) "
)
# "... about my refund": asking for a person with the reason attached is still asking for a person.
_ABOUT = r"(?: (?:about|regarding|concerning|re|on|for) .+)?"

_HUMAN_EN = (
    rf"{_ASK}(?:talk|speak|chat|write)(?: directly)?(?: to| with)? {_A}(?:{_STAFF}|{_SOMEONE})"
    rf"(?: now| asap| directly)?{_ABOUT}",
    rf"{_ASK}(?:connect|transfer|put|pass|send|forward|switch|escalate|redirect|hand) (?:me|this|us)(?: over| through)?"
    rf"(?: to| with)? {_A}(?:{_STAFF}|{_SOMEONE})(?: now| asap)?{_ABOUT}",
    rf"{_ASK}(?:transfer|escalate|connect)(?: me| this)?",
    rf"{_WANT}{_A}(?:{_STAFF}|{_SOMEONE} to (?:talk|speak|chat) (?:to|with))(?: now| asap)?{_ABOUT}",
    rf"{_WANT}?(?:help|support|assistance) from {_A}(?:{_STAFF}|{_SOMEONE})",
    rf"(?:is there|are there|do you have|is|are) {_A}{_STAFF} (?:i can talk to|i can speak to|i could talk to|"
    r"available|there|around|online|here|i can chat with)",
    r"(?:is there|is) (?:someone|somebody|anyone|anybody) (?:i can|i could) (?:talk|speak|chat) (?:to|with)",
    r"(?:is|are) (?:someone|somebody|anyone|anybody) available",
    rf"(?:can|could) {_A}(?:{_STAFF}|{_SOMEONE}) help(?: me)?",
    # A bare "agent" or "human please" is the shortest way to ask.
    r"(?:real |live |actual )?(?:human(?: being)?s?|person|agents?|representative|rep|operator|real people|"
    r"customer (?:service|support|care)|live chat|live support|human support)",
    r"(?:no|not a|no more|i dont want a|i dont want to talk to a|stop the) (?:bots?|robots?|machines?|ai|chatbots?)",
)

_NOT_HELPING_EN = (
    r"(?:you(?: are|re| r)?|u(?: r| are)?|ur|this(?: bot| chat| answer| reply)?(?: is|s)?|that(?: answer| reply)?"
    r"(?: is|s| was)?|it(?: is|s| was)?|the bot(?: is)?|your answers?(?: are| is)?) "
    r"(?:still |really |just |clearly |even |totally |completely |so |very |absolutely |pretty |of )?"
    r"(?:(?:not|no|isnt|arent|wasnt|werent|didnt|doesnt|dont|does not|did not|do not|is not|are not|was not|"
    r"cant|cannot|can not|never) (?:really |even |actually |very |much )?(?:help(?:ing|ful|ed)?|useful|any help|"
    r"much help|of (?:any |much )?(?:help|use)|answer(?:ing)? (?:my|the) question|make(?:s)? (?:any )?sense|"
    r"understand(?:ing)?(?: me| my question| what i (?:mean|meant|said|asked|want))?|what i (?:asked|meant|"
    r"wanted|want|need|needed|asked for)|right|correct|relevant|listening)|useless|unhelpful|pointless|worthless|"
    r"stupid|dumb|rubbish|garbage|terrible|awful|bad|wrong|irrelevant|frustrating|annoying|crap|a joke|"
    r"a waste of (?:my )?time|no help|no use|no good)(?: at all| to me| whatsoever)*",
    r"(?:useless|unhelpful|not helpful|not helping|pointless|worthless|stupid|dumb|terrible|bad|wrong|irrelevant)"
    r"(?: bot| answer| answers| reply| response| robot| ai| assistant| chatbot| thing)?(?: at all)?",
    r"(?:not|doesnt|didnt|does not|did not) help(?:ful|ing)?(?: at all)?",
    r"(?:still )?(?:no help|not what i (?:asked|meant|wanted|need|needed)(?: for)?|not my question|wrong answer|"
    r"(?:what a )?waste of (?:my )?time|what a waste|makes no sense|that makes no sense|nonsense|this sucks|you suck|"
    r"ugh+|come on|seriously|try again|are you (?:even )?listening|thats not an answer|not an answer)",
    r"(?:you|it) (?:didnt|did not|dont|do not|doesnt|does not|never) (?:answer|get|understand)"
    r"(?: it| me| my question)?",
    r"(?:this|it|the bot|this bot|this chat) (?:isnt|is not|s not) working",
    r"(?:this|that) (?:is|was) not (?:what i (?:asked|wanted|meant)|my question)",
)

_BOT_EN = (
    r"(?:a |an )?(?:real |actual |live |living )?(?:bot|robot|chat ?bot|ai|machine|computer|program|"
    r"automated(?: system| reply| response| assistant| service)?|auto ?reply|virtual assistant|ai assistant|"
    r"human(?: being| agent)?|person|gpt|chat ?gpt|artificial intelligence)"
)
_ARE_YOU_BOT_EN = (
    rf"(?:are|r) (?:you|u)(?: even| actually| really| just)? {_BOT_EN}(?: or {_BOT_EN}| or not)?",
    rf"(?:am i|are we|im) (?:talking|chatting|speaking|writing) (?:to|with) {_BOT_EN}(?: or {_BOT_EN}| or not)?",
    rf"(?:is|was) (?:this|that|it) {_BOT_EN}(?: or {_BOT_EN}| or not)?",
    r"(?:is|are) (?:this|these|you) (?:an? )?(?:automated|automatic|auto|bot|canned|generated|ai)"
    r"(?: reply| replies| response| responses| answer| answers| message| messages)?",
    r"(?:is anyone|are you|is this|is there anyone) real",
    r"(?:are|r) (?:you|u) (?:real|human|alive)",
    r"(?:who|what) (?:am i|are we) (?:talking|chatting|speaking) (?:to|with)",
    r"(?:who|what) (?:are you|r u)|(?:who is|whos) (?:this|there|that)",
    rf"(?:so )?(?:you are|youre|ur|u r) (?:just )?{_BOT_EN}",
    r"(?:bot|robot|ai|machine) or (?:a )?(?:real )?(?:human|person)",
    r"(?:human|person) or (?:a )?(?:bot|robot|ai|machine)",
)

_GOODBYE_EN = (
    r"good ?bye|bye(?: ?bye)?|bye for now|bye now|see (?:you|ya|u)(?: later| soon| around| next time| then| tomorrow)?",
    r"cya|later|laters|catch you later|talk (?:to you )?(?:later|soon)|ttyl|take care|farewell|good ?night|night|nite",
    r"have a (?:good|nice|great|lovely|wonderful) (?:day|one|evening|night|weekend|afternoon|morning)",
    r"you too|same to you",
    r"that(?:s| is| will be|ll be| would be)(?: all| it)(?: for (?:now|today))?",
    r"(?:im|i am) (?:done|off|leaving|out)|(?:gotta|got to|i have to|i need to|i must) go|signing off",
    r"adios|ciao|au revoir|until next time|peace out",
)

_THANKS_EN = (
    r"(?:(?:many|big|huge) )?(?:thanks|thank (?:you|u|ya)|thankyou|thanku|thanx|thnx|thnks|thx|tks|tq|ty|tysm|tyvm|"
    r"cheers|ta|merci|danke|gracias|thank)"
    r"(?: (?:so|very|soo) much| a (?:lot|bunch|ton|million|heap)| heaps| loads| tons| again| anyway| anyways| though|"
    r" in advance| for (?:your|the|all the|all your|all|this|that|the quick|your quick) (?:help|assistance|info|"
    r"information|answer|answers|reply|support|time|explanation)| for (?:helping|that|this|everything|the info|"
    r"your time)(?: me| out)?)*",
    r"(?:much|really|greatly) appreciated|appreciated",
    r"(?:i )?(?:really |truly )?appreciate (?:it|that|this|your help|the help)",
    r"(?:that|this|it|you)(?: was| is|s| were| have been|ve been| are|re)? (?:very |really |so |super |a |a great |"
    r"a big |extremely )?(?:helpful|useful|help|great help|big help|lifesaver|the best|a star)",
    r"(?:that|this|it) help(?:s|ed)(?: a lot| me| so much)?|great help",
    # Praise that closes a thank-you: "that's exactly what I needed".
    r"(?:that|this|it)(?: is|s| was)? (?:exactly |just )?what i (?:needed|wanted|was looking for|was after)",
    r"(?:you|u)(?: are|re| r)? (?:the best|a star|amazing|awesome|great|brilliant|a lifesaver)",
)

_GREETING_EN = (
    r"(?:hi|hello|hey|heya|hiya|hallo|helo|hullo|howdy|yo|hola|greetings|ahoy|sup|wassup|whats up|"
    r"good (?:morning|afternoon|evening|day)|morning|afternoon|evening|gm)"
    r"(?: there| all| everyone| everybody| guys| folks| team| friend)?",
    r"(?:is )?(?:any ?one|any ?body)(?: there| here| around| online| home| in)?",
    r"(?:is )?(?:someone|somebody) (?:there|here|around|online|home|in)",
    r"(?:are )?(?:you|u) (?:there|around|online|here|awake|available)|(?:are you|is anyone) still there",
    r"how (?:are|r) (?:you|u|ya)(?: doing)?(?: today)?|hows it going|how is it going|how do you do|nice to meet you",
    r"excuse me|test|testing|is this (?:thing )?(?:on|working)|can you hear me",
)

_YES_EN = (
    r"yes(?: please| i do| i did| it is| i am| i have| thats right| exactly| indeed)?",
    r"yeah|yea|yep|yup|ya|yah|yass|aye|y|uh huh|mhm|mm|sure(?: thing)?|of course|ofc|absolutely|definitely|certainly",
    r"correct|exactly|right|thats (?:right|correct|it)|indeed|true|agreed|go ahead|please do|do it",
    r"sounds (?:good|great|perfect)|works for me|that works|got it|gotcha|understood|i see|i understand|makes sense",
    r"noted|fine|good|great|perfect|cool|nice|awesome|excellent|wonderful|lovely|brilliant|fantastic|will do",
    r"ok(?:ay|ey|ie)?|k|kk|alright|all right|aight|roger",
)

_NO_EN = (
    r"no|nope|nah|naw|n|(?:no|nope|nah) (?:thanks|thank you|thx|ty)|no need|not (?:really|now|yet|at the moment|today)",
    r"nothing(?: else| more)?|none|no more questions|no other questions|nothing for now",
    r"never ?mind|nvm|forget it|no worries|no problem|(?:its|thats) (?:fine|ok|okay)|dont worry",
    r"(?:im|i am) (?:good|fine|ok|okay|all set)|all (?:good|set)|i dont think so|not that i know of",
)

# Words that may sit anywhere in an act without changing it: fillers, addresses, and names for the bot.
_FILLER_EN = (
    r"ok(?:ay|ey|ie)?|k|kk|please|pls|plz|so|well|oh|ah|aha|um|umm|hmm|hm|uh|er|erm|and|but|then|again|just|also",
    r"guys|all|everyone|everybody|folks|team|dear|friend|mate|buddy|sir|madam|maam|lol|haha|hehe|xd|x|xx",
    r"bot|robot|chatbot|assistant|helper|shop assistant|support bot",
)

# --- Simplified Chinese ------------------------------------------------------------------------------------------
# Spaces between Chinese characters are removed before matching, so phrases are written without them.

_STAFF_ZH = (
    r"(?:人工客服|真人客服|在线客服|人工服务|真人服务|人工坐席|人工|真人|客服人员|工作人员|售后客服|售后|客服|活人|"
    r"经理|主管|负责人|店主|老板|掌柜|店家)"
)
_PARTICLE_ZH = r"(?:吗|嘛|么|吧|呢|啊|呀)"

_HUMAN_ZH = (
    rf"我?(?:要|想|想要|需要|希望|请|麻烦|帮我|给我)?(?:转|转接|转到|转给|接|切换|切到|找|联系|呼叫|叫|换)(?:一下|个|一个)?"
    rf"{_STAFF_ZH}{_PARTICLE_ZH}?",
    rf"我?(?:要|想|想要|需要)?(?:跟|和|与)(?:一个|个)?(?:{_STAFF_ZH}|人|真的人)(?:说话|聊|聊聊|聊天|谈|谈谈|沟通|对话|交流)",
    r"(?:人工客服|真人客服|人工服务|真人服务|在线客服|人工坐席|人工|真人|客服)",
    r"有(?:没有)?(?:人工客服|真人客服|人工|真人|客服|工作人员)(?:吗|嘛|么|在吗|在线吗)?",
    r"我?(?:不要|不想|不想要|别用)(?:跟|和)?(?:机器人|机器|ai|自动回复)(?:聊|说话|聊天|对话|回复)?",
    rf"(?:能|可以|能不能|可不可以)(?:帮我)?(?:转|转接|找|联系|接)(?:一下|个)?{_STAFF_ZH}{_PARTICLE_ZH}?",
    rf"(?:叫|让)(?:你们)?的?{_STAFF_ZH}(?:来|出来|过来|跟我说|和我说)",
    rf"我?(?:要|想要|需要)(?:一个|个)?{_STAFF_ZH}",
)

_NOT_HELPING_ZH = (
    r"(?:你这个?回答|你的回答|你这个?|这个?回答|你|您|这|这个|回答|机器人)?(?:真|太|好|很|根本|完全|一点|还是|依然)?(?:没用|没有用|没啥用|没什么用|"
    r"没用处|无用|一点用都没有|一点用也没有|没帮助|没有帮助|没什么帮助|没帮上忙|没帮上|帮不上忙|帮不了我|帮不到我|没帮到我|"
    r"不管用|不靠谱|答非所问|智障|垃圾|废物|太差|差劲|好烂|真烂|笨|蠢|浪费时间|听不懂人话|没解决|没有解决|解决不了|"
    r"没解决我的问题|没有解决我的问题)(?:了|啊|吧|的|呀)?",
    r"(?:你|您)?(?:根本|完全|好像|还是)?(?:没|不|没有)(?:明白|懂|理解|听懂|看懂)(?:我的意思|我说的|我的问题)?",
    r"(?:这|这个|你说的|你的回答)?(?:不是|并不是)我(?:要|想要|想问|问|需要|想知道)的",
    r"(?:这个|你的)?(?:回答|答案)(?:不对|错了|是错的)|什么鬼|看不懂",
    r"(?:问题)?(?:还是|依然)?(?:没|没有)解决",
)

_BOT_ZH = (
    r"(?:机器人|真人|人工|ai|人工智能|自动回复|机器|活人|程序|chatgpt|gpt|真的人|真人客服|人工客服|智能客服|"
    r"客服机器人|聊天机器人)"
)
_ARE_YOU_BOT_ZH = (
    rf"(?:你|您|这|这个|对面|你们)(?:是|是不是|到底是|难道是|真的是)(?:一个|个)?(?:{_BOT_ZH}|人)(?:还是(?:一个|个)?"
    rf"(?:{_BOT_ZH}|人))?{_PARTICLE_ZH}?",
    rf"(?:是|是不是)(?:一个|个)?(?:{_BOT_ZH}|人)(?:还是(?:一个|个)?(?:{_BOT_ZH}|人))?{_PARTICLE_ZH}",
    rf"{_BOT_ZH}(?:吗|嘛|么)|{_BOT_ZH}还是(?:{_BOT_ZH}|人){_PARTICLE_ZH}?",
    rf"我(?:是)?在?(?:和|跟|与)(?:一个|个)?(?:{_BOT_ZH}|谁|人)在?(?:说话|聊天|对话|沟通|交流){_PARTICLE_ZH}?",
    r"(?:你|您|你们)(?:是谁|是什么|叫什么)(?:啊|呀|呢)?",
)

_GOODBYE_ZH = (
    r"(?:再见|拜拜|拜|白白|回见|下次见|明天见|改天见|再会|回头见|88|886|晚安|先这样吧?|就这样吧?|先走了|我先走了|我走了|"
    r"下线了|告辞|没别的了|没有别的了|没(?:有)?(?:其他|别的)?问题了)(?:啦|了|哦|啊|哈|咯)?",
    r"祝(?:你|您)(?:一天愉快|生活愉快|愉快|周末愉快|有美好的一天)",
)

_THANKS_ZH = (
    r"(?:非常|十分|太|真是|真的|万分|超级)?(?:谢谢|谢啦|谢了|多谢|感谢|感激|感恩|谢|3q|蟹蟹)(?:你|您|你们|亲)?(?:了|啦|哈|哦|呀)?"
    r"(?:的帮助|的帮忙|帮忙|帮助|的解答|解答|的回复|回复)?(?:了|啦)?",
    r"辛苦(?:你|您)?(?:了|啦)|麻烦(?:你|您)?了|有劳了|(?:很|非常|挺|真)?有帮助|帮(?:到我|了我|了大忙|大忙)了?",
)

_GREETING_ZH = (
    r"(?:你好|您好|你们好|大家好|哈喽|哈啰|哈罗|嗨|嘿|喂|在吗|在嘛|在么|在不在|有人吗|有人在吗|有人在不在|有没有人|"
    r"有没有人在|早上好|上午好|中午好|下午好|晚上好|早安|早|午安)(?:呀|啊|哦|哈)?",
    # "客服" alone asks for a person, but "客服你好" and "客服在吗" are how a chat with a shop usually opens.
    r"(?:客服|亲|小助手|机器人|老板|店家|掌柜|商家)(?:你好|您好|在吗|在嘛|在么|在不在)",
)

_YES_ZH = (
    r"是|是的|是啊|是呀|是滴|对|对的|对啊|对呀|对对|没错|正确|嗯|嗯嗯|嗯呢|恩|恩恩|好|好的|好滴|好呀|好啊|好吧|好嘞|好哒",
    r"行|行的|可以|可以的|当然|当然了|要|需要|有|明白|明白了|知道了|了解|了解了|收到|懂了|没问题|好的呢",
)

_NO_ZH = (
    r"不|不是|不是的|不用|不用了|不需要|不需要了|不要|不要了|没有|没有了|没|没了|没事|没事了|不了|算了|算了吧",
    r"不必|不必了|不对|否|不行|没关系|暂时不用|暂时没有|先不用|还没|还没有",
    # Declining with thanks is declining, as "no thanks" is in English.
    r"(?:不用|不需要|不要|没有|没事)了?(?:谢谢|谢了|多谢)(?:你|您|啦)?",
)

_FILLER_ZH = (
    r"啊|呀|哦|噢|喔|嘛|哈|哈哈|呢|吧|啦|了|哟|诶|欸|额|呃|那|那个|亲|亲亲|请|麻烦|帮我|一下|小助手|助手|机器人|小姐姐",
)

_TABLES: dict[Act | None, tuple[str, ...]] = {
    Act.HUMAN: _HUMAN_EN + _HUMAN_ZH,
    Act.NOT_HELPING: _NOT_HELPING_EN + _NOT_HELPING_ZH,
    Act.ARE_YOU_BOT: _ARE_YOU_BOT_EN + _ARE_YOU_BOT_ZH,
    Act.GOODBYE: _GOODBYE_EN + _GOODBYE_ZH,
    Act.THANKS: _THANKS_EN + _THANKS_ZH,
    Act.GREETING: _GREETING_EN + _GREETING_ZH,
    Act.NO: _NO_EN + _NO_ZH,
    Act.YES: _YES_EN + _YES_ZH,
    None: _FILLER_EN + _FILLER_ZH,
}

# Drawn-out letters ("hiii", "thankss", "helloo") are matched by collapsing every run of a letter to one, in the
# message and in the tables alike; the tables contain no escapes, so collapsing their letters keeps them valid.
_RUN = re.compile(r"([a-z])\1+")


def _compile(tables: dict[Act | None, tuple[str, ...]], squeeze: bool) -> list[tuple[int, re.Pattern[str]]]:
    """One alternation per act, with its rank (higher wins; filler ranks lowest)."""
    compiled = []
    for act, patterns in tables.items():
        source = "|".join(f"(?:{pattern})" for pattern in patterns)
        if squeeze:
            source = _RUN.sub(r"\1", source)
        rank = -1 if act is None else len(PRECEDENCE) - PRECEDENCE.index(act)
        compiled.append((rank, re.compile(source)))
    return compiled


_EXACT = _compile(_TABLES, squeeze=False)
_SQUEEZED = _compile(_TABLES, squeeze=True)

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_BETWEEN_CJK = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")
_IS_CJK = re.compile(rf"[{_CJK}]")
# Emoji that say something on their own; every other symbol is dropped.
_EMOJI_WORDS = {"👍": " ok ", "🙏": " thanks ", "👋": " hi "}
_APOSTROPHES = "'’‘ʼ`´"


def normalize(text: str) -> str:
    """The message in lower case, with words separated by single spaces and no punctuation, symbols or emoji."""
    text = unicodedata.normalize("NFKC", text).lower()
    for emoji, word in _EMOJI_WORDS.items():
        text = text.replace(emoji, word)
    # Letters, digits and combining marks stay; apostrophes join ("don't" -> "dont"); anything else separates.
    kept = "".join(
        "" if char in _APOSTROPHES else char if unicodedata.category(char)[0] in "LNM" else " " for char in text
    )
    return _BETWEEN_CJK.sub("", " ".join(kept.split()))


def _cuts(text: str) -> list[int]:
    """Where a phrase may start or end: at spaces, and around every Chinese character."""
    cuts = {0, len(text)}
    for index, char in enumerate(text):
        if char == " " or _IS_CJK.match(char):
            cuts.update((index, index + 1))
    return sorted(cuts)


def _best_rank(text: str, tables: list[tuple[int, re.Pattern[str]]]) -> int | None:
    """The top rank of the cut of text into the fewest phrases (None when no cut covers it all)."""
    cuts = _cuts(text)
    # best[i]: (phrases used, top rank so far) for the text up to cuts[i]. Fewer phrases wins, so that a longer
    # phrase ("no thanks") speaks for its words rather than their separate meanings ("no" + "thanks").
    best: list[tuple[int, int] | None] = [None] * len(cuts)
    best[0] = (0, -1)
    for start in range(len(cuts)):
        if best[start] is None:
            continue
        used, rank = best[start]
        for end in range(start + 1, len(cuts)):
            if cuts[end] - cuts[start] > MAX_PHRASE:
                break
            phrase = text[cuts[start] : cuts[end]].strip()
            if not phrase:
                continue
            ranks = [table_rank for table_rank, pattern in tables if pattern.fullmatch(phrase)]
            if not ranks:
                continue
            candidate = (used + 1, max(rank, *ranks))
            current = best[end]
            if current is None or (candidate[0], -candidate[1]) < (current[0], -current[1]):
                best[end] = candidate
    return None if best[-1] is None else best[-1][1]


def detect(text: str) -> Act | None:
    """The act the whole message performs, or None when it says or asks anything more."""
    normalized = normalize(text)
    if not normalized or len(normalized) > MAX_LENGTH:
        return None
    rank = _best_rank(normalized, _EXACT)
    squeezed = _RUN.sub(r"\1", normalized)
    if (rank is None or rank < 0) and squeezed != normalized:
        rank = _best_rank(squeezed, _SQUEEZED)
    if rank is None or rank < 0:
        return None
    act = PRECEDENCE[len(PRECEDENCE) - rank]
    if act in (Act.YES, Act.NO) and _A_NOT_A.search(normalized):
        return None
    return act


_ANSWERS = {
    "en": {
        Act.GREETING: "Hi! I'm the shop's assistant. What can I help you with?",
        Act.THANKS: "You're welcome! Anything else I can help with?",
        Act.GOODBYE: "Goodbye, and have a great day!",
        Act.YES: "Great — what would you like to know?",
        Act.NO: "Alright. If anything else comes up, just write here.",
        Act.ARE_YOU_BOT: (
            "I'm an automated assistant: I answer from the shop's help articles. "
            "If you'd rather talk to a person, just say so — someone from the team can take over any time."
        ),
        Act.NOT_HELPING: (
            "Sorry I couldn't help with that. Could you try asking in other words? "
            "A person from the team can also take over if you'd like."
        ),
        Act.HUMAN: "Of course — I'm connecting you with a person.",
    },
    "zh-hans": {
        Act.GREETING: "您好！我是本店的智能助手，有什么可以帮您？",
        Act.THANKS: "不客气！还有什么可以帮您的吗？",
        Act.GOODBYE: "再见，祝您生活愉快！",
        Act.YES: "好的，您想了解什么呢？",
        Act.NO: "好的。如果还有其他问题，随时在这里留言。",
        Act.ARE_YOU_BOT: "我是自动回复的智能助手，根据本店的帮助文章为您解答。如果您想和真人沟通，随时告诉我，工作人员可以接手。",
        Act.NOT_HELPING: "抱歉没能帮上忙。您可以换个说法再问一次；如果需要，也可以请工作人员来接手。",
        Act.HUMAN: "好的，正在为您转接人工客服。",
    },
}


def answer(act: Act, language: str) -> str:
    """The bot's brief reply to an act, in "en" or "zh-hans" (any other language gets English)."""
    return _ANSWERS["zh-hans" if language == "zh-hans" else "en"][act]
