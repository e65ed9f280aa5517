"""A realistic day of a real-estate CRM's AI features, as requests to the gateway.

Scenarios: a chat assistant in multi-turn conversations with buyers, the same FAQ asked again and
again, the same questions in other words, lead analyses (some leads analysed twice), and streamed
call scripts. The system prompt is long, as real assistant prompts are, so prompt caching and
conversation pruning have something to work on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SYSTEM_PROMPT = (
    "You are the assistant of Acme Realty's CRM. You help agents and buyers with listings, "
    "budgets, neighbourhoods, mortgages, viewings and offers. Be precise with numbers: prices, "
    "bedrooms, square footage, dates and rates must be repeated exactly as given. Never invent a "
    "listing. When a buyer states a requirement (budget, area, move-in date, school district, "
    "pets, parking), keep it in mind for the rest of the conversation. "
) + " ".join(
    f"Policy {n}: agents follow the brokerage's fair-housing rules, disclose dual agency, "
    f"confirm pre-approval before scheduling a second viewing, and log every contact in the CRM "
    f"within one business day (section {n}.1)."
    for n in range(1, 31)
)


@dataclass(frozen=True)
class Call:
    scenario: str
    kwargs: dict[str, Any]
    stream: bool = False


@dataclass
class Conversation:
    contact_id: str
    turns: list[str]
    messages: list[dict[str, Any]] = field(default_factory=list)


BUYER_CONVERSATIONS = [
    Conversation(
        "lead-1001",
        [
            "Hi! We're looking for a 3-bedroom house in Austin under $500,000.",
            "We need to move in before March 15 because our lease ends then.",
            "Our lender is Riverbank Credit Union and we're pre-approved for $480,000.",
            "Are there any options near Zilker Park with a yard for our dog?",
            "What would the monthly payment be at 6.25% with 10% down?",
            "Can you list the three best matches with price and square footage?",
        ],
    ),
    Conversation(
        "lead-1002",
        [
            "Hello, I'm relocating to Denver for work and want a condo.",
            "Budget is $420k, two bedrooms, and I need a parking spot.",
            "I start my job on June 3, so closing should be in May.",
            "Is Capitol Hill or Highlands better for a short commute downtown?",
            "What HOA fees should I expect in those buildings?",
            "Please summarise what I asked for so far.",
        ],
    ),
    Conversation(
        "lead-1003",
        [
            "We want to sell our home at 42 Maple Street and buy something bigger.",
            "The current house is 1,850 square feet and we think it's worth $610,000.",
            "We'd like 4 bedrooms in the Round Rock school district.",
            "Our maximum for the new place is $725,000.",
            "Can we make our offer contingent on selling Maple Street?",
            "What's a realistic timeline to do both by August?",
        ],
    ),
]

# A long conversation, as a chat widget sends it turn after turn: requirements early on, small
# talk and acknowledgements in between. The optimizer earns its keep here.
LONG_CONVERSATION = Conversation(
    "lead-1004",
    [
        "Hi, I'm Dana. We're buying our first home in Portland.",
        "Our budget is $575,000 and we're pre-approved with Harbor Lending.",
        "Thanks!",
        "We need 3 bedrooms and a garage for two cars.",
        "Great, thank you.",
        "We'd like to be in the Sellwood or Westmoreland neighbourhoods.",
        "Ok sounds good.",
        "Our lease ends on September 30, so we need to close by then.",
        "Thanks for that.",
        "We have a golden retriever, so a fenced yard matters.",
        "Perfect.",
        "My partner works at OHSU, so a commute under 25 minutes.",
        "Got it, thanks.",
        "How competitive is the market there right now?",
        "Interesting, thanks.",
        "What inspection contingencies should we keep in our offer?",
        "Ok.",
        "Could you check the school ratings near Sellwood Park?",
        "Thanks a lot.",
        "Remind me: what budget, areas and deadline did I give you?",
    ],
)

FAQ = [
    "What documents do I need to get pre-approved for a mortgage?",
    "How much earnest money is typical for an offer in Texas?",
    "What does a home inspection usually cover?",
]

# FAQs asked again in other words, each with the FAQ it asks. The first three are worded the way
# a chat widget's users repeat a question (a greeting, a thank-you, another order); the last four
# reword it (other nouns, other verbs), which the semantic cache's guard cannot explain, so Claude
# answers them. The demo prints what the cache decided on each.
PARAPHRASES = [
    ("Hi! What documents do I need to get pre-approved for a mortgage? Thanks", FAQ[0]),
    ("For an offer in Texas, how much earnest money is typical?", FAQ[1]),
    ("Hello, what does a home inspection usually cover? Thank you!", FAQ[2]),
    ("What paperwork is needed for mortgage pre-approval?", FAQ[0]),
    ("Which documents should I bring to get pre-approved for a home loan?", FAQ[0]),
    ("What is a normal earnest money deposit for a Texas offer?", FAQ[1]),
    ("What's usually included in a home inspection?", FAQ[2]),
]

LEADS = [
    (
        "lead-2001",
        "Maria Lopez",
        "Budget $350k, timeline 3 months, pre-approved, wants a townhouse",
    ),
    ("lead-2002", "James Chen", "Budget $900k, timeline 12 months, not pre-approved, investor"),
    ("lead-2003", "Priya Patel", "Budget $500k, timeline 1 month, pre-approved, first-time buyer"),
    ("lead-2004", "Tom Becker", "Budget unknown, browsing, opened 2 emails, no replies"),
]


def chat_call(conversation: Conversation) -> Call:
    """The next turn of a conversation: its whole history so far, as chat clients send it."""
    return Call(
        "chat (multi-turn)",
        {
            "system": SYSTEM_PROMPT,
            "messages": list(conversation.messages),
            "max_tokens": 400,
            "temperature": 0.0,
            "task": "chat",
            "contact_id": conversation.contact_id,
            "conversation_id": f"conv-{conversation.contact_id}",
        },
    )


def faq_call(question: str, contact_id: str) -> Call:
    return Call(
        "FAQ (repeated)",
        {
            "system": SYSTEM_PROMPT,
            "messages": [{"role": "user", "content": question}],
            "max_tokens": 300,
            "temperature": 0.0,
            "task": "chat",
            "contact_id": contact_id,
        },
    )


def lead_analysis_call(lead_id: str, name: str, facts: str) -> Call:
    return Call(
        "lead analysis",
        {
            "system": SYSTEM_PROMPT,
            "messages": [
                {
                    "role": "user",
                    "content": f"Analyse lead {name} ({lead_id}): {facts}. Give a score from 0 "
                    "to 100, the reasons, and the next best action.",
                }
            ],
            "max_tokens": 350,
            "temperature": 0.0,
            "task": "lead_analysis",
            "contact_id": lead_id,
        },
    )


def script_call(lead_id: str, name: str) -> Call:
    return Call(
        "call script (streamed)",
        {
            "system": SYSTEM_PROMPT,
            "messages": [
                {"role": "user", "content": f"Write a short call script for {name} ({lead_id})."}
            ],
            "max_tokens": 300,
            "temperature": 0.0,
            "task": "script",
            "contact_id": lead_id,
        },
        stream=True,
    )
