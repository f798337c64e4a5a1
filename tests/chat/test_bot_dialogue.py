"""The bot as a conversation partner: answer selection, precision, cross-language answers and the handoff policy."""

import pytest

from chat.ai.answers import citation, select_sentences
from chat.ai.base import UNANSWERED, Outcome, Passage, Provider, ReplyRequest, Source, Turn
from chat.ai.dialogue import policy, respond
from chat.ai.kb import KnowledgeBaseProvider, decide
from chat.ai.phrases import language_of
from chat.ai.retrieval import build_index, search
from chat.management.commands.seed_demo import ARTICLES

INDEX = build_index([(number, title, body, language) for number, (title, language, body) in enumerate(ARTICLES)])
BODIES = {title: body for title, _, body in ARTICLES}


def passage(title: str, score: float, language: str = "en") -> Passage:
    return Passage(
        article_id=len(title),
        title=title,
        body=BODIES.get(title, "Some text."),
        score=score,
        url=f"/help/shop/{len(title)}/",
        language=language,
    )


async def run(request: ReplyRequest, provider: Provider | None = None) -> tuple[str, Outcome]:
    text, outcome = "", None
    async for chunk in respond(request, provider or KnowledgeBaseProvider(chars_per_second=0), chars_per_second=0):
        if isinstance(chunk, Outcome):
            assert outcome is None, "exactly one outcome, last"
            outcome = chunk
        else:
            assert outcome is None, "no text after the outcome"
            text += chunk
    return text, outcome


def ask(question: str, previous: str = "", **state) -> ReplyRequest:
    return ReplyRequest(
        question=question,
        history=[Turn("user", previous)] if previous else [],
        passages=[passage(p.title, p.score, p.language) for p in search(INDEX, question, previous=previous)],
        language=language_of(question, language_of(previous)),
        **state,
    )


# --- Answers that fit the question ------------------------------------------------------------------------------


def test_the_sentence_that_answers_is_picked_not_the_first():
    chosen = select_sentences("How much does express shipping cost?", BODIES["Shipping costs"])
    assert any("Express shipping costs $12.95" in sentence for sentence in chosen)
    chosen = select_sentences("will I pay customs duties?", BODIES["International shipping"])
    assert chosen[-1].startswith("International delivery takes") and "customs duties" in chosen[-1]


def test_a_follow_up_picks_by_the_previous_question_too():
    chosen = select_sentences(
        "and to the UK?", BODIES["International shipping"], previous="how long does delivery take"
    )
    assert any("7 to 14 business days" in sentence for sentence in chosen)


def test_without_overlap_the_first_sentence_stands():
    assert select_sentences("hmm", BODIES["Warranty"]) == [BODIES["Warranty"].split(". ")[0] + "."]


async def test_an_answer_quotes_the_fitting_sentence_and_links_the_article():
    text, outcome = await run(ask("How much does express shipping cost?"))
    assert "$12.95" in text and "Here's what our" not in text
    assert "Source: [Shipping costs](/help/shop/" in text
    assert outcome.kind == "answered" and [s.title for s in outcome.sources] == ["Shipping costs"]


def test_citation_lines_in_both_languages():
    source = Source(article_id=3, title="Gift [cards]", url="/help/s/3/")
    assert citation([source], "en") == "\n\nSource: [Gift (cards)](/help/s/3/)"
    assert citation([source], "zh-hans").startswith("\n\n来源：")
    assert citation([], "en") == ""


# --- Precision first -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "question, title",
    [
        ("Do you ship to Canada?", "International shipping"),
        ("Can you ship to the UK?", "International shipping"),
        ("How much does express shipping cost?", "Shipping costs"),
        ("my blender is not working", "Warranty"),
        ("多久能到", "配送时间"),
    ],
)
async def test_questions_the_knowledge_base_answers(question, title):
    _, outcome = await run(ask(question))
    assert outcome.kind == "answered" and outcome.sources[0].title == title


@pytest.mark.parametrize(
    "question",
    [
        "What are your opening hours?",
        "my discount code is not working",
        "Do you have a store in Berlin?",
        "what's the weather like",
    ],
)
async def test_generic_or_uncovered_questions_are_not_answered(question):
    _, outcome = await run(ask(question))
    assert outcome.kind == "unanswered"


def test_near_tie_on_weak_evidence_asks_which_topic():
    decision = decide([passage("Shipping times", 0.35), passage("Shipping costs", 0.33)])
    assert decision.kind == "clarify" and [p.title for p in decision.passages] == ["Shipping times", "Shipping costs"]


def test_a_confident_best_answer_is_taken_despite_a_close_second():
    assert decide([passage("Shipping times", 0.7), passage("Shipping costs", 0.65)]).kind == "answered"


def test_the_same_article_in_the_other_language_is_no_rival():
    decision = decide([passage("配送时间", 0.35, "zh-hans"), passage("Shipping times", 0.3)])
    assert decision.kind == "answered" and decision.passages[0].title == "配送时间"


async def test_a_clarifying_question_offers_the_two_topics():
    request = ReplyRequest(
        question="shipping?", passages=[passage("Shipping times", 0.35), passage("Shipping costs", 0.33)]
    )
    text, outcome = await run(request)
    assert outcome.kind == "clarify" and outcome.options == ("Shipping times", "Shipping costs")
    assert "Which of these" in text and not outcome.handoff


async def test_a_follow_up_is_read_with_the_previous_question():
    _, outcome = await run(ask("and to the UK?", previous="Do you ship to Canada?"))
    assert outcome.kind == "answered" and outcome.sources[0].title == "International shipping"


# --- Cross-language answers -------------------------------------------------------------------------------------


async def test_a_chinese_question_answered_by_an_english_article_says_so_in_chinese():
    text, outcome = await run(ask("可以换货吗"))
    assert outcome.kind == "answered" and outcome.sources[0].title == "Exchanges"
    assert text.startswith("这个问题我们目前只有英文的帮助文章") and "来源：[Exchanges](/help/shop/" in text


async def test_a_chinese_question_with_a_chinese_article_is_answered_in_chinese():
    text, outcome = await run(ask("怎么付款"))
    assert outcome.sources[0].title == "付款方式" and "只有英文" not in text and "来源" in text


def test_language_follows_the_message_or_what_came_before():
    assert language_of("可以退货吗") == "zh-hans"
    assert language_of("hello") == "en"
    assert language_of("👍", "zh-hans") == "zh-hans"


# --- The handoff policy -----------------------------------------------------------------------------------------


def test_a_first_miss_offers_rephrasing_or_a_person():
    text, outcome = policy(ReplyRequest(question="?", misses=0, handoff_after=3), UNANSWERED)
    assert outcome.actions == ("rephrase", "human") and not outcome.handoff
    assert "put it another way" in text


def test_the_nth_miss_in_a_row_hands_off():
    _, outcome = policy(ReplyRequest(question="?", misses=2, handoff_after=3), UNANSWERED)
    assert outcome.handoff and outcome.kind == "unanswered" and not outcome.actions


def test_zero_means_only_when_the_customer_asks():
    _, outcome = policy(ReplyRequest(question="?", misses=40, handoff_after=0), UNANSWERED)
    assert not outcome.handoff and outcome.actions == ("rephrase", "human")


def test_in_the_queue_a_miss_says_the_team_has_it_and_offers_nothing():
    text, outcome = policy(ReplyRequest(question="?", in_queue=True, misses=5), UNANSWERED)
    assert "our team has your question" in text and not outcome.handoff and not outcome.actions


def test_in_the_queue_an_answer_says_the_team_was_told():
    text, outcome = policy(ReplyRequest(question="?", in_queue=True), Outcome("answered"))
    assert "Our team has been told" in text and outcome.kind == "answered"


async def test_asking_for_a_person_hands_off_at_once():
    text, outcome = await run(ask("talk to a human"))
    assert outcome.kind == "handoff" and outcome.handoff and "passing you to a person" in text


async def test_asking_for_a_person_while_queued_does_not_hand_off_again():
    _, outcome = await run(ask("talk to a human", in_queue=True))
    assert not outcome.handoff


async def test_away_hours_ask_for_an_email_address():
    text, outcome = await run(ask("talk to a human", team_available=False))
    assert outcome.handoff and outcome.expects == "email" and "Leave your email address" in text
    text, outcome = await run(ask("转人工", team_available=False))
    assert outcome.expects == "email" and "电子邮箱" in text


async def test_away_with_a_known_address_promises_a_reply_there():
    text, outcome = await run(ask("talk to a human", team_available=False, visitor_email="cleo@example.com"))
    assert outcome.handoff and not outcome.expects and "cleo@example.com" in text


async def test_a_miss_that_hands_off_while_away_asks_for_the_address():
    text, outcome = await run(ask("Do you sell furniture?", misses=2, handoff_after=3, team_available=False))
    assert outcome.handoff and outcome.expects == "email"


@pytest.mark.parametrize(
    "message, email, expects",
    [
        ("cleo@example.com", "cleo@example.com", ""),
        ("sure, it's Cleo.Lee+shop@example.co.uk.", "Cleo.Lee+shop@example.co.uk", ""),
        ("我的邮箱是 cleo@example.cn", "cleo@example.cn", ""),
        ("cleo@", "", "email"),
        ("cleo@example", "", "email"),
    ],
)
async def test_the_address_is_validated_and_kept(message, email, expects):
    _, outcome = await run(ask(message, expects="email"))
    assert outcome.kind == "contact" and outcome.email == email and outcome.expects == expects


async def test_declining_to_leave_an_address_stops_asking():
    text, outcome = await run(ask("no thanks", expects="email"))
    assert outcome.kind == "contact" and not outcome.email and not outcome.expects and "Keep this chat open" in text


async def test_a_question_instead_of_the_address_is_answered_and_the_bot_keeps_waiting():
    _, outcome = await run(ask("How much does express shipping cost?", expects="email"))
    assert outcome.kind == "answered" and outcome.expects == "email"


async def test_small_talk_instead_of_the_address_keeps_the_bot_waiting():
    _, outcome = await run(ask("hi", expects="email"))
    assert outcome.kind == "smalltalk" and outcome.expects == "email"


# --- Small talk is answered without a handoff (the table of phrasings is in test_bot_acts) -----------------------


@pytest.mark.parametrize("message", ["hi", "thanks!", "bye", "are you a bot?", "你好", "谢谢"])
async def test_small_talk_is_answered_without_a_handoff(message):
    text, outcome = await run(ask(message))
    assert outcome.kind == "smalltalk" and not outcome.handoff and text
    assert language_of(text) == language_of(message)


async def test_frustration_offers_a_person():
    _, outcome = await run(ask("you're not helping"))
    assert outcome.kind == "smalltalk" and outcome.actions == ("human",) and not outcome.handoff


# --- The evaluation sets ------------------------------------------------------------------------------------


def test_the_evaluation_command_prints_the_table_for_both_sets():
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("evaluate_bot", stdout=out)
    text = out.getvalue()
    assert "dev (dev.json)" in text and "heldout (heldout.json)" in text
    assert text.count("| en |") == 2 and text.count("| zh-hans |") == 2


def test_the_development_set_stays_where_it_was_calibrated():
    """A guard against regressions on the set the thresholds were chosen on (the held-out set is only reported)."""
    from pathlib import Path

    from chat.ai.evaluation import evaluate, load

    tallies = evaluate(load(Path(__file__).parent / "bot_eval" / "dev.json"), ARTICLES)
    for tally in tallies.values():
        assert tally.share("answerable", "right") >= 0.9
        assert tally.share("all", "wrong") <= 0.03
        assert tally.share("smalltalk", "right") == 1.0
