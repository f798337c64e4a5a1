"""Conversational acts: which whole messages are greetings, thanks, requests for a person, and what the bot says."""

import re

import pytest

from chat.ai.acts import Act, answer, detect

ACTS = [
    # Greetings, with fillers, drawn-out letters and full-width punctuation.
    ("hi", Act.GREETING),
    ("Hiii!!!", Act.GREETING),
    ("hello", Act.GREETING),
    ("Hey there 👋", Act.GREETING),
    ("hi there", Act.GREETING),
    ("hello, anyone there?", Act.GREETING),
    ("Good morning!", Act.GREETING),
    ("goooood morning", Act.GREETING),
    ("hellooo?", Act.GREETING),
    ("hi bot", Act.GREETING),
    ("are you there?", Act.GREETING),
    ("ＨＥＬＬＯ！", Act.GREETING),
    ("你好", Act.GREETING),
    ("您好！", Act.GREETING),
    ("在吗？", Act.GREETING),
    ("亲，在吗", Act.GREETING),
    ("客服你好", Act.GREETING),
    ("有人在吗", Act.GREETING),
    ("早上好", Act.GREETING),
    ("hello 你好", Act.GREETING),
    # Thanks.
    ("thanks", Act.THANKS),
    ("Thanks a lot!", Act.THANKS),
    ("thx", Act.THANKS),
    ("ty", Act.THANKS),
    ("cheers", Act.THANKS),
    ("Thank you so much for your help!", Act.THANKS),
    ("thankss", Act.THANKS),
    ("ok thanks", Act.THANKS),
    ("perfect, thanks!", Act.THANKS),
    ("that helped, thanks", Act.THANKS),
    ("appreciate it", Act.THANKS),
    ("thanks 🙏", Act.THANKS),
    ("谢谢", Act.THANKS),
    ("多谢！", Act.THANKS),
    ("好的谢谢", Act.THANKS),
    ("非常感谢", Act.THANKS),
    ("谢谢你的帮助", Act.THANKS),
    ("辛苦了", Act.THANKS),
    # Goodbyes, including thanks followed by a goodbye.
    ("bye", Act.GOODBYE),
    ("byee", Act.GOODBYE),
    ("ok thanks bye", Act.GOODBYE),
    ("thanks, bye", Act.GOODBYE),
    ("see you later!", Act.GOODBYE),
    ("have a nice day", Act.GOODBYE),
    ("that's all, thanks", Act.GOODBYE),
    ("再见", Act.GOODBYE),
    ("拜拜～", Act.GOODBYE),
    ("没有了，再见", Act.GOODBYE),
    ("886", Act.GOODBYE),
    # Yes.
    ("yes", Act.YES),
    ("Yesss!", Act.YES),
    ("yeah sure", Act.YES),
    ("ok", Act.YES),
    ("yes please", Act.YES),
    ("👍", Act.YES),
    ("是的", Act.YES),
    ("对", Act.YES),
    ("好的", Act.YES),
    ("嗯嗯", Act.YES),
    # No.
    ("no", Act.NO),
    ("nope.", Act.NO),
    ("No thanks", Act.NO),
    ("not really", Act.NO),
    ("never mind", Act.NO),
    ("ok, no", Act.NO),
    ("不是", Act.NO),
    ("不用了", Act.NO),
    ("不用了，谢谢！", Act.NO),
    ("没有", Act.NO),
    # Questions about the bot itself.
    ("are you a bot?", Act.ARE_YOU_BOT),
    ("Am I talking to a real person?", Act.ARE_YOU_BOT),
    ("is this an AI", Act.ARE_YOU_BOT),
    ("are you human?", Act.ARE_YOU_BOT),
    ("is this automated?", Act.ARE_YOU_BOT),
    ("who am I talking to?", Act.ARE_YOU_BOT),
    ("你是机器人吗", Act.ARE_YOU_BOT),
    ("你是真人吗？", Act.ARE_YOU_BOT),
    ("是人工吗", Act.ARE_YOU_BOT),
    ("你们是机器人还是真人", Act.ARE_YOU_BOT),
    # Frustration.
    ("you're not helping", Act.NOT_HELPING),
    ("You’re not helping!!", Act.NOT_HELPING),
    ("this is useless", Act.NOT_HELPING),
    ("that didn't help", Act.NOT_HELPING),
    ("not helpful at all", Act.NOT_HELPING),
    ("that's not what I asked", Act.NOT_HELPING),
    ("you don't understand me", Act.NOT_HELPING),
    ("useless bot", Act.NOT_HELPING),
    ("wrong answer", Act.NOT_HELPING),
    ("没用", Act.NOT_HELPING),
    ("你没帮上忙", Act.NOT_HELPING),
    ("答非所问", Act.NOT_HELPING),
    ("不是我想问的", Act.NOT_HELPING),
    ("你根本不懂", Act.NOT_HELPING),
    # Asking for a person.
    ("talk to a human", Act.HUMAN),
    ("I want to speak to an agent", Act.HUMAN),
    ("can I talk to a real person", Act.HUMAN),
    ("human please", Act.HUMAN),
    ("agent", Act.HUMAN),
    ("Agent!!", Act.HUMAN),
    ("I need a human", Act.HUMAN),
    ("connect me with an agent please", Act.HUMAN),
    ("is there a human I can talk to?", Act.HUMAN),
    ("can I speak to someone?", Act.HUMAN),
    ("customer service", Act.HUMAN),
    ("I'd like to talk to a person about my refund", Act.HUMAN),
    ("转人工", Act.HUMAN),
    ("人工客服", Act.HUMAN),
    ("我要找人工", Act.HUMAN),
    ("请转人工！", Act.HUMAN),
    ("有没有人工", Act.HUMAN),
    ("我想和真人聊天", Act.HUMAN),
    ("我不想和机器人聊天", Act.HUMAN),
    # A message with two acts takes the stronger one.
    ("hi, I want to talk to a human", Act.HUMAN),
    ("this is useless, get me an agent", Act.HUMAN),
    ("thanks but you're not helping", Act.NOT_HELPING),
    ("hello, are you a bot?", Act.ARE_YOU_BOT),
    ("你好，转人工", Act.HUMAN),
]

QUESTIONS = [
    "hi, how long does shipping take?",
    "thanks, and do you ship to Canada?",
    "Hello! Can I return a sale item?",
    "Good morning, I would like to return an item",
    "no tracking number yet?",
    "no, the blue one",
    "yes, I want to return it",
    "ok but how much is shipping",
    "my agent code",
    "the agent said I would get a refund",
    "agents are rude",
    "human resources email",
    "is this a real leather bag?",
    "are you open on Sunday?",
    "who is the manufacturer?",
    "how do I say thank you in Chinese",
    "I want a refund",
    "help",
    "你好，请问运费多少？",
    "谢谢，能寄到加拿大吗",
    "在吗？我的订单到哪了",
    "是的，我想退货",
    "不是这个尺码",
    "客服电话多少",
    "人工费多少",
    "转账失败了",
    "机器人玩具有货吗",
    "是不是包邮",
    "是不是",
    "",
    "?!…",
]


@pytest.mark.parametrize(("text", "act"), ACTS)
def test_whole_message_act_is_detected(text, act):
    assert detect(text) == act


@pytest.mark.parametrize("text", QUESTIONS)
def test_message_with_a_real_question_is_no_act(text):
    assert detect(text) is None


def test_long_message_is_no_act():
    assert detect("thanks " * 40) is None


@pytest.mark.parametrize("act", list(Act))
def test_every_act_has_an_answer_in_both_languages(act):
    english, chinese = answer(act, "en"), answer(act, "zh-hans")
    assert english.strip() and chinese.strip()
    assert re.search(r"[A-Za-z]", english)
    assert re.search(r"[\u4e00-\u9fff]", chinese)
    assert not re.search(r"[\u4e00-\u9fff]", english)


def test_only_the_human_answer_speaks_of_connecting():
    for act in Act:
        mentions = "connecting" in answer(act, "en") or "转接" in answer(act, "zh-hans")
        assert mentions == (act is Act.HUMAN)


def test_unknown_language_gets_english():
    assert answer(Act.GREETING, "de") == answer(Act.GREETING, "en")
