"""Generator of long real-estate CRM conversations with labelled facts.

Used by `bench.pruning_eval` (and the optimizer's retention tests) to measure how many input
tokens the conversation optimizer removes and how many of the facts that answers depend on
survive. Every conversation is a complete Anthropic Messages request: a system prompt, CRM tool
definitions, and 20+ alternating turns ending with a user turn, built from:

- a client persona drawn from fixed lists (names, partner, phone, e-mail, lender, neighbourhoods,
  streets, schools, workplaces) with budgets, pre-approval amounts, bedroom and bathroom counts,
  move-in dates, down payments, must-haves and deal-breakers;
- exchanges of several kinds, shuffled with a seeded generator: fact statements by the client,
  corrections ("we raised the budget to ..."), tool calls (listing search, showing scheduling,
  mortgage estimates, CRM notes) whose results are long JSON documents the assistant then
  summarises, small talk, greetings and acknowledgements, and repeated questions and answers;
- sentence templates in several phrasings for each fact kind, with money written as "$650,000"
  or "$650k", counts as digits or words, and dates as "June 15", "August 1st" or "the end of
  September".

A fact is labelled with the exact text the conversation uses (e.g. "$650,000", "Maplewood",
"three bedrooms", "41 Alder Street", "Summit Bank", "a fenced yard") the first time a user or
assistant turn states it. Data that appears only inside a tool result is not labelled: what
matters for later answers is what the assistant and the client said about it.

Everything comes from `random.Random(seed)`, so a seed always yields the same conversations;
`python -m bench.crm_conversations` rewrites bench/data/crm_conversations.jsonl (seed 20251122,
60 conversations of 11-30 exchanges, 21-73 turns) and bench/data/crm_conversations_long.jsonl
(seed 20251123, 8 conversations of 40-80 exchanges, for the prompt-caching replay).
"""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_SEED = 20251122
DEFAULT_COUNT = 60
DEFAULT_EXCHANGES = (11, 30)
DATA_FILE = Path(__file__).parent / "data" / "crm_conversations.jsonl"
# A second, smaller set of long conversations (the prompt-caching trade-off depends on length).
LONG_SEED = DEFAULT_SEED + 1
LONG_COUNT = 8
LONG_EXCHANGES = (40, 80)
LONG_DATA_FILE = Path(__file__).parent / "data" / "crm_conversations_long.jsonl"
MODEL = "claude-sonnet-4-6"

FIRST_NAMES = [
    "Dana", "Priya", "Marcus", "Elena", "Tom", "Aisha", "Kenji", "Sofia", "Liam", "Grace",
    "Omar", "Hannah", "Mateo", "Chloe", "Ravi", "Nora", "Jamal", "Ingrid", "Diego", "Mei",
]  # fmt: skip
LAST_NAMES = [
    "Whitfield", "Raman", "Okafor", "Lindqvist", "Brennan", "Castillo", "Nakamura", "Haddad",
    "Kowalski", "Fernandes", "Murphy", "Adeyemi", "Schultz", "Delgado", "Park", "Moreau",
]  # fmt: skip
AGENT_NAMES = ["Sarah", "Jordan", "Alex", "Morgan"]
NEIGHBOURHOODS = [
    "Maplewood", "Cedar Park", "Riverside Heights", "Old Town", "Lakeview", "Brookfield",
    "Hillcrest", "Willow Creek", "Harbor Point", "Elm Grove", "Sunnyside", "Northgate",
]  # fmt: skip
STREETS = [
    "Alder Street", "Birch Lane", "Chestnut Avenue", "Dogwood Drive", "Elmwood Court",
    "Foxglove Way", "Garnet Road", "Hawthorne Place", "Ivy Terrace", "Juniper Street",
    "Kingsley Avenue", "Larkspur Lane", "Magnolia Drive", "Northridge Road", "Oakmont Boulevard",
    "Primrose Lane",
]  # fmt: skip
LENDERS = [
    "Summit Bank", "Harbor Credit Union", "Northstar Mortgage", "Bluewater Lending",
    "Keystone Home Loans", "Pinecrest Federal",
]  # fmt: skip
SCHOOLS = ["Lincoln Elementary", "Jefferson Middle School", "Roosevelt High", "Maple Grove Academy"]
WORKPLACES = [
    "St. Mary's Hospital",
    "Union Station",
    "Brookfield University",
    "the Harborview campus",
]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
]  # fmt: skip
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MUST_HAVES = [
    "a fenced yard", "a two-car garage", "a home office", "a finished basement", "central air",
    "a walk-in pantry", "a single-story layout", "a big kitchen", "a guest suite",
]  # fmt: skip
DEAL_BREAKERS = [
    "a busy road", "an HOA", "a fixer-upper", "a pool", "a shared driveway", "a flood zone",
]  # fmt: skip
PET_NAMES = ["Biscuit", "Pepper", "Milo", "Juniper", "Tank", "Olive"]
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}

SMALL_TALK_USER = [
    "The weather has been so nice this week.",
    "We spent the whole weekend packing boxes, which was exhausting.",
    "The kids are honestly more excited about the move than we are.",
    "Sorry for the slow reply, work has been hectic lately.",
    "I was just telling my sister how smooth this has been so far.",
    "Traffic this morning was unbelievable.",
    "We finally tried that coffee place you recommended and loved it.",
    "It has been a long week, so I appreciate your patience.",
]
SMALL_TALK_AGENT = [
    "I completely understand how stressful a move can be.",
    "That's great to hear, it really helps to know what matters most to you.",
    "I'm glad the process has felt manageable so far.",
    "Moving is a big project, so it's smart to take it one step at a time.",
    "I know the market can feel overwhelming, but we'll find the right fit.",
    "It sounds like you've put a lot of thought into this, which makes my job easier.",
]
ACKS_USER = [
    "Thanks so much!", "Okay, sounds good.", "Perfect, thank you!", "Got it, thanks.",
    "Great, appreciate it!", "Sounds good to me.", "Awesome, thanks for the quick reply!",
]  # fmt: skip
ACKS_AGENT = [
    "You're very welcome!",
    "Happy to help!",
    "Of course, anytime.",
    "My pleasure, let me know if you have any other questions.",
    "Glad I could help, feel free to reach out anytime.",
]
GREETINGS_USER = [
    "Hi there!", "Hello!", "Hey, good morning!", "Hi, hope you're doing well.",
    "Good afternoon!", "Hi again!",
]  # fmt: skip
GREETINGS_AGENT = [
    "Hi! It's great to hear from you.",
    "Hello! Hope your week is going well.",
    "Good to hear from you again!",
    "Hi! Thanks for reaching out.",
]
CLOSINGS_AGENT = [
    "Let me know if you have any other questions.",
    "Feel free to reach out anytime if anything else comes up.",
    "I'm here if you need anything else.",
    "Just let me know how you'd like to proceed.",
]

SYSTEM_PROMPT = (
    "You are {agent}, a licensed real-estate agent's assistant at Brightdoor Realty, helping "
    "clients buy and sell homes. Use the CRM tools to look up listings, schedule showings, "
    "estimate mortgage payments and record notes. Be warm but concise, never invent listing "
    "details, always confirm dates and prices before booking anything, and keep track of every "
    "requirement the client has mentioned. When a client's budget, timeline or financing "
    "changes, acknowledge the change explicitly and use the newest figures from then on. Do not "
    "give legal or tax advice; suggest a qualified professional instead. Quote prices in US "
    "dollars and distances in miles."
)

TOOLS: list[dict[str, Any]] = [
    {
        "name": "search_listings",
        "description": "Search active MLS listings by neighbourhood, price and size.",
        "input_schema": {
            "type": "object",
            "properties": {
                "neighborhood": {"type": "string"},
                "max_price": {"type": "integer", "description": "US dollars"},
                "min_bedrooms": {"type": "integer"},
            },
            "required": ["neighborhood"],
        },
    },
    {
        "name": "schedule_showing",
        "description": "Book a showing of a listing with the listing agent.",
        "input_schema": {
            "type": "object",
            "properties": {
                "address": {"type": "string"},
                "date": {"type": "string"},
                "time": {"type": "string"},
            },
            "required": ["address", "date", "time"],
        },
    },
    {
        "name": "estimate_mortgage",
        "description": "Estimate the monthly payment for a price, down payment and rate.",
        "input_schema": {
            "type": "object",
            "properties": {
                "price": {"type": "integer"},
                "down_payment_percent": {"type": "number"},
                "rate_percent": {"type": "number"},
            },
            "required": ["price", "down_payment_percent"],
        },
    },
    {
        "name": "log_crm_note",
        "description": "Record a note on the contact's CRM record.",
        "input_schema": {
            "type": "object",
            "properties": {"contact_id": {"type": "string"}, "note": {"type": "string"}},
            "required": ["contact_id", "note"],
        },
    },
]


def money(rng: random.Random, amount: int) -> str:
    """A dollar amount as a person would type it."""
    if amount % 1000 == 0 and rng.random() < 0.3:
        return f"${amount // 1000}k"
    return f"${amount:,}"


def day_of(rng: random.Random) -> str:
    month = rng.choice(MONTHS)
    day = rng.randint(1, 28)
    style = rng.random()
    if style < 0.5:
        return f"{month} {day}"
    if style < 0.8:
        suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd"}.get(day, "th")
        return f"{month} {day}{suffix}"
    return f"the end of {month}"


def count_phrase(rng: random.Random, number: int, noun: str) -> str:
    if number in NUMBER_WORDS and rng.random() < 0.4:
        return f"{NUMBER_WORDS[number]} {noun}"
    return f"{number} {noun}"


@dataclass
class Persona:
    first: str
    last: str
    partner: str
    agent: str
    phone: str
    email: str
    lender: str
    areas: list[str]
    budget: int
    budget_text: str
    preapproval_text: str
    bedrooms_text: str
    bathrooms_text: str
    move_in: str
    lease_end: str
    down_payment: str
    must_have: str
    deal_breaker: str
    school: str
    workplace: str
    pet: str
    current_address: str
    raised_budget_text: str

    @classmethod
    def draw(cls, rng: random.Random) -> Persona:
        first = rng.choice(FIRST_NAMES)
        last = rng.choice(LAST_NAMES)
        budget = rng.randrange(420_000, 1_250_000, 5_000)
        raised = budget + rng.randrange(20_000, 80_000, 5_000)
        preapproval = budget + rng.randrange(-30_000, 40_000, 5_000)
        beds = rng.randint(2, 5)
        baths = rng.choice([1, 2, 2, 3])
        return cls(
            first=first,
            last=last,
            partner=rng.choice([n for n in FIRST_NAMES if n != first]),
            agent=rng.choice(AGENT_NAMES),
            phone=f"(555) {rng.randint(100, 999)}-{rng.randint(1000, 9999)}",
            email=f"{first.lower()}.{last.lower()}@example.com",
            lender=rng.choice(LENDERS),
            areas=rng.sample(NEIGHBOURHOODS, 2),
            budget=budget,
            budget_text=money(rng, budget),
            preapproval_text=money(rng, preapproval),
            bedrooms_text=count_phrase(rng, beds, "bedrooms"),
            bathrooms_text=count_phrase(rng, baths, "bathrooms"),
            move_in=day_of(rng),
            lease_end=day_of(rng),
            down_payment=f"{rng.choice([10, 15, 20, 25])}%",
            must_have=rng.choice(MUST_HAVES),
            deal_breaker=rng.choice(DEAL_BREAKERS),
            school=rng.choice(SCHOOLS),
            workplace=rng.choice(WORKPLACES),
            pet=rng.choice(PET_NAMES),
            current_address=f"{rng.randint(10, 990)} {rng.choice(STREETS)}",
            raised_budget_text=money(rng, raised),
        )


@dataclass
class Listing:
    address: str
    price: int
    bedrooms: int
    bathrooms: int
    sqft: int
    mls: str
    area: str

    def as_json(self, rng: random.Random) -> dict[str, Any]:
        return {
            "mls_number": self.mls,
            "address": self.address,
            "neighborhood": self.area,
            "list_price": self.price,
            "bedrooms": self.bedrooms,
            "bathrooms": self.bathrooms,
            "square_feet": self.sqft,
            "year_built": rng.randint(1925, 2021),
            "lot_acres": round(rng.uniform(0.08, 0.6), 2),
            "days_on_market": rng.randint(1, 90),
            "hoa_monthly": rng.choice([0, 0, 0, 85, 150, 240]),
            "remarks": rng.choice(
                [
                    "Sunny corner lot with updated kitchen and hardwood floors throughout.",
                    "Quiet cul-de-sac, new roof in 2021, close to parks and shops.",
                    "Open floor plan, quartz counters, primary suite with walk-in closet.",
                    "Charming original details, large backyard, detached workshop.",
                    "Recently renovated, energy-efficient windows, solar panels owned.",
                ]
            ),
        }


@dataclass
class Conversation:
    """One conversation under construction: messages in Messages API JSON, labelled facts."""

    ident: str
    persona: Persona
    rng: random.Random
    messages: list[dict[str, Any]] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    listings: list[Listing] = field(default_factory=list)
    said: list[tuple[str, str]] = field(default_factory=list)
    _tool_ids: int = 0

    def label(self, text: str, kind: str) -> str:
        """Label `text` as a fact of the turn about to be added (once per conversation)."""
        if all(f["text"] != text for f in self.facts):
            self.facts.append({"text": text, "kind": kind, "message": len(self.messages)})
        return text

    def user(self, text: str) -> None:
        self.messages.append({"role": "user", "content": text})
        self.said.append(("user", text))

    def assistant(self, text: str) -> None:
        self.messages.append({"role": "assistant", "content": [{"type": "text", "text": text}]})
        self.said.append(("assistant", text))

    def tool_call(self, preface: str, name: str, tool_input: dict[str, Any], result: str) -> None:
        self._tool_ids += 1
        tool_id = f"toolu_{self.ident.replace('-', '')}_{self._tool_ids:03d}"
        self.messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": preface},
                    {"type": "tool_use", "id": tool_id, "name": name, "input": tool_input},
                ],
            }
        )
        self.messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_id,
                        "content": [{"type": "text", "text": result}],
                    }
                ],
            }
        )

    def pad(self, sentences: list[str], chance: float) -> str:
        return " ".join(s for s in sentences if s) + (
            " " + self.rng.choice(SMALL_TALK_USER) if self.rng.random() < chance else ""
        )

    def agent_text(self, *core: str) -> str:
        parts = []
        if self.rng.random() < 0.5:
            parts.append(self.rng.choice(SMALL_TALK_AGENT))
        parts.extend(core)
        if self.rng.random() < 0.6:
            parts.append(self.rng.choice(CLOSINGS_AGENT))
        return " ".join(parts)


Exchange = Callable[[Conversation], None]


def intro(c: Conversation) -> None:
    p = c.persona
    name = c.label(f"{p.first} {p.last}", "name")
    partner = c.label(p.partner, "name")
    c.user(
        f"{c.rng.choice(GREETINGS_USER)} This is {name}. My partner {partner} and I are starting "
        f"to look for a home and a friend gave us your number."
    )
    c.assistant(
        f"{c.rng.choice(GREETINGS_AGENT)} Welcome, {p.first}! I'm {p.agent} and I'd love to help "
        "you and your partner find the right place. To get started, could you tell me a bit "
        "about your budget, the areas you like and when you'd want to move?"
    )


def budget(c: Conversation) -> None:
    p = c.persona
    amount = c.label(p.budget_text, "money")
    phrasing = c.rng.choice(
        [
            f"Our budget is {amount} at most.",
            f"We'd like to stay under {amount} if we can.",
            f"We're thinking {amount} is our ceiling for the purchase price.",
        ]
    )
    c.user(c.pad([phrasing], 0.4))
    c.assistant(
        c.agent_text(
            f"Thanks, a ceiling of {p.budget_text} gives us solid options in several areas.",
            "Have you been pre-approved by a lender yet?",
        )
    )


def lender(c: Conversation) -> None:
    p = c.persona
    bank = c.label(p.lender, "lender")
    amount = c.label(p.preapproval_text, "money")
    c.user(
        c.pad(
            [
                c.rng.choice(
                    [
                        f"Yes, we got pre-approved with {bank} for {amount} last week.",
                        f"We're pre-approved for {amount} through {bank}.",
                    ]
                )
            ],
            0.3,
        )
    )
    c.assistant(
        c.agent_text(
            f"Great, a pre-approval of {p.preapproval_text} from {p.lender} makes any offer "
            "much stronger.",
            "Sellers take pre-approved buyers far more seriously.",
        )
    )


def areas(c: Conversation) -> None:
    p = c.persona
    first = c.label(p.areas[0], "place")
    second = c.label(p.areas[1], "place")
    school = c.label(p.school, "place")
    c.user(
        c.pad(
            [
                f"We really like {first} and {second}.",
                f"Being in the district for {school} matters a lot to us.",
            ],
            0.3,
        )
    )
    c.assistant(
        c.agent_text(
            f"{p.areas[0]} and {p.areas[1]} are both popular with families, and I'll keep "
            f"the {p.school} district in mind.",
            "Inventory moves quickly there, so it's good we're starting early.",
        )
    )


def size(c: Conversation) -> None:
    p = c.persona
    beds = c.label(p.bedrooms_text, "count")
    baths = c.label(p.bathrooms_text, "count")
    c.user(
        c.pad(
            [
                c.rng.choice(
                    [
                        f"We need at least {beds} and {baths}.",
                        f"Ideally {beds}, and {baths} would be great.",
                    ]
                )
            ],
            0.3,
        )
    )
    c.assistant(c.agent_text(f"Noted: {p.bedrooms_text} and {p.bathrooms_text} as the minimum."))


def timeline(c: Conversation) -> None:
    p = c.persona
    move = c.label(p.move_in, "date")
    lease = c.label(p.lease_end, "date")
    c.user(
        c.pad(
            [
                f"We'd like to move in by {move}.",
                f"Our lease ends on {lease}, so that's the hard deadline.",
            ],
            0.4,
        )
    )
    c.assistant(
        c.agent_text(
            f"Understood, we'll work backwards from a move-in by {p.move_in}.",
            "A typical closing takes 30 to 45 days once an offer is accepted.",
        )
    )


def requirements(c: Conversation) -> None:
    p = c.persona
    must = c.label(p.must_have, "requirement")
    avoid = c.label(p.deal_breaker, "requirement")
    c.user(
        c.pad(
            [
                f"We must have {must}.",
                f"And we don't want {avoid}, that's a deal-breaker for us.",
            ],
            0.3,
        )
    )
    c.assistant(
        c.agent_text(
            f"Got it: {p.must_have} is a must, and we'll rule out anything with {p.deal_breaker}."
        )
    )


def commute_and_pet(c: Conversation) -> None:
    p = c.persona
    work = c.label(p.workplace, "place")
    pet = c.label(p.pet, "name")
    c.user(
        c.pad(
            [
                f"{p.partner} works at {work}, so the commute should be under 30 minutes.",
                f"Also our dog {pet} needs space to run around.",
            ],
            0.3,
        )
    )
    c.assistant(
        c.agent_text(
            f"I'll check commute times to {p.workplace} for every listing, and a yard for "
            f"{p.pet} fits with what you've told me."
        )
    )


def contact_details(c: Conversation) -> None:
    p = c.persona
    phone = c.label(p.phone, "contact")
    email = c.label(p.email, "contact")
    c.user(f"Best way to reach me is {phone}, or by email at {email}.")
    c.assistant(c.agent_text("Perfect, I've saved both to your contact record."))


def current_home(c: Conversation) -> None:
    p = c.persona
    address = c.label(p.current_address, "place")
    down = c.label(p.down_payment, "money")
    c.user(
        c.pad(
            [
                f"We also own a condo at {address} that we'll sell.",
                f"We're planning to put {down} down.",
            ],
            0.3,
        )
    )
    c.assistant(
        c.agent_text(
            f"With {p.down_payment} down and the sale of {p.current_address}, we should "
            "coordinate both timelines carefully."
        )
    )


def budget_change(c: Conversation) -> None:
    p = c.persona
    raised = c.label(p.raised_budget_text, "money")
    c.user(
        c.pad(
            [f"Actually, after talking with {p.lender} we can go up to {raised} now."],
            0.3,
        )
    )
    c.assistant(
        c.agent_text(
            f"That's good news. I'll use {p.raised_budget_text} as the new ceiling from now on."
        )
    )


def new_listing(c: Conversation, area: str, max_price: int) -> Listing:
    rng = c.rng
    listing = Listing(
        address=f"{rng.randint(10, 990)} {rng.choice(STREETS)}",
        price=rng.randrange(max_price - 120_000, max_price, 1_000),
        bedrooms=rng.randint(2, 5),
        bathrooms=rng.randint(1, 4),
        sqft=rng.randrange(1100, 3600, 10),
        mls=f"MLS-{rng.randint(100000, 999999)}",
        area=area,
    )
    c.listings.append(listing)
    return listing


def search(c: Conversation) -> None:
    p = c.persona
    area = c.rng.choice(p.areas)
    c.user(f"Could you look for something in {area} that fits what we discussed?")
    found = [new_listing(c, area, p.budget) for _ in range(c.rng.randint(6, 10))]
    result = json.dumps(
        {"results": [listing.as_json(c.rng) for listing in found], "total": len(found)},
        indent=2,
    )
    c.tool_call(
        f"Let me search the MLS for {area}.",
        "search_listings",
        {"neighborhood": area, "max_price": p.budget, "min_bedrooms": 2},
        result,
    )
    top = c.rng.sample(found, 2)
    first = c.label(top[0].address, "place")
    second = c.label(top[1].address, "place")
    price_one = c.label(f"${top[0].price:,}", "money")
    c.assistant(
        c.agent_text(
            f"I found {len(found)} active listings in {area}. Two stand out: {first}, listed at "
            f"{price_one} with {top[0].bedrooms} bedrooms, and {second} at "
            f"${top[1].price:,} with {top[1].bedrooms} bedrooms and {top[1].sqft:,} square feet.",
            "Would you like to see either of them in person?",
        )
    )


def showing(c: Conversation) -> None:
    if not c.listings:
        search(c)
    listing = c.rng.choice(c.listings[-2:])
    day = c.rng.choice(WEEKDAYS[:6])
    hour = c.rng.choice(["9:30 AM", "10:30 AM", "1:00 PM", "4:15 PM", "5:30 PM"])
    c.user(f"Can we see {listing.address} on {day}?")
    result = json.dumps(
        {
            "status": "confirmed",
            "address": listing.address,
            "date": day,
            "time": hour,
            "listing_agent": {
                "name": c.rng.choice(["Pat Greene", "Lee Moran", "Sam Ortiz"]),
                "phone": f"(555) {c.rng.randint(100, 999)}-{c.rng.randint(1000, 9999)}",
            },
            "instructions": "Lockbox on the side door; remove shoes; seller's cat stays inside.",
        },
        indent=2,
    )
    c.tool_call(
        f"I'll book {listing.address} for {day}.",
        "schedule_showing",
        {"address": listing.address, "date": day, "time": hour},
        result,
    )
    when = c.label(f"{day} at {hour}", "date")
    c.assistant(
        c.agent_text(
            f"You're confirmed for {listing.address} on {when}.",
            "The listing agent asked that everyone remove their shoes inside.",
        )
    )


def mortgage(c: Conversation) -> None:
    p = c.persona
    listing = c.listings[-1] if c.listings else new_listing(c, p.areas[0], p.budget)
    rate = c.rng.choice([5.875, 6.125, 6.25, 6.5, 6.875])
    down = int(p.down_payment.rstrip("%"))
    c.user(f"What would the monthly payment look like for {listing.address}?")
    principal = listing.price * (100 - down) // 100
    monthly = round(principal * (rate / 1200) / (1 - (1 + rate / 1200) ** -360))
    result = json.dumps(
        {
            "price": listing.price,
            "down_payment_percent": down,
            "loan_amount": principal,
            "rate_percent": rate,
            "term_months": 360,
            "monthly_principal_and_interest": monthly,
            "estimated_taxes_monthly": listing.price // 1000,
            "estimated_insurance_monthly": c.rng.randint(90, 220),
            "amortization_preview": [
                {"month": m, "principal": monthly // 4 + m, "interest": monthly - monthly // 4 - m}
                for m in range(1, 13)
            ],
        },
        indent=2,
    )
    c.tool_call(
        "Let me run the numbers.",
        "estimate_mortgage",
        {"price": listing.price, "down_payment_percent": down, "rate_percent": rate},
        result,
    )
    payment = c.label(f"${monthly:,}", "money")
    c.assistant(
        c.agent_text(
            f"At {rate}% with {p.down_payment} down, principal and interest come to about "
            f"{payment} a month, before taxes and insurance."
        )
    )


def crm_note(c: Conversation) -> None:
    p = c.persona
    c.user("Can you make a note that we prefer weekend showings?")
    note = f"{p.first} {p.last} prefers weekend showings; budget {p.budget_text}."
    c.tool_call(
        "Adding that to your record now.",
        "log_crm_note",
        {"contact_id": f"ct_{c.rng.randint(10000, 99999)}", "note": note},
        json.dumps({"status": "saved", "note_id": f"note_{c.rng.randint(1000, 9999)}"}),
    )
    c.assistant(c.agent_text("Done, weekend showings are now noted on your record."))


def small_talk(c: Conversation) -> None:
    c.user(" ".join(c.rng.sample(SMALL_TALK_USER, 2)))
    c.assistant(f"{c.rng.choice(SMALL_TALK_AGENT)} {c.rng.choice(CLOSINGS_AGENT)}")


def acknowledgement(c: Conversation) -> None:
    c.user(c.rng.choice(ACKS_USER))
    c.assistant(c.rng.choice(ACKS_AGENT))


def greeting(c: Conversation) -> None:
    c.user(f"{c.rng.choice(GREETINGS_USER)} {c.rng.choice(SMALL_TALK_USER)}")
    c.assistant(c.rng.choice(GREETINGS_AGENT) + " What can I do for you today?")


def repeat(c: Conversation) -> None:
    """The client asks again about something already answered; the assistant repeats itself."""
    earlier = [text for role, text in c.said if role == "assistant" and "$" in text]
    if not earlier:
        small_talk(c)
        return
    c.user("Sorry, could you remind me what you said earlier about that?")
    c.assistant(c.rng.choice(earlier))


def open_question(c: Conversation) -> None:
    """The final user turn: a question whose answer depends on facts from early on."""
    p = c.persona
    c.user(
        c.rng.choice(
            [
                "Given everything we've talked about, which of the homes so far fits us best?",
                f"Before we make an offer, can you recap our budget and must-haves for "
                f"{p.partner}?",
                "What should our next steps be this week?",
                "Could you draft a short summary of our search for our lender?",
            ]
        )
    )


FACT_EXCHANGES: list[Exchange] = [
    budget, lender, areas, size, timeline, requirements, commute_and_pet, contact_details,
    current_home,
]  # fmt: skip
LATER_EXCHANGES: list[Exchange] = [search, search, showing, mortgage, crm_note, budget_change]
REPEATABLE_WORK: list[Exchange] = [search, showing, mortgage, crm_note]
FILLER_EXCHANGES: list[Exchange] = [small_talk, acknowledgement, greeting, repeat]


def plan(rng: random.Random, exchanges: int) -> Iterator[Exchange]:
    """The order of exchanges: intro, the client's facts interleaved with tool work and filler."""
    yield intro
    facts = FACT_EXCHANGES[:]
    rng.shuffle(facts)
    remaining = exchanges - 2
    # Longer conversations do more work: further searches, showings and estimates.
    extra_work = max(0, remaining // 3 - len(LATER_EXCHANGES))
    work = LATER_EXCHANGES + [rng.choice(REPEATABLE_WORK) for _ in range(extra_work)]
    rng.shuffle(work)
    fixed = facts + work
    fillers = max(0, remaining - len(fixed))
    body: list[Exchange] = fixed + [rng.choice(FILLER_EXCHANGES) for _ in range(fillers)]
    # Facts come first on average (clients state what they want early), but not strictly.
    body.sort(key=lambda ex: (ex in FACT_EXCHANGES and rng.random() < 0.7, rng.random()))
    body.reverse()
    if budget_change in body:
        # A change of budget only makes sense after the budget was stated.
        body.remove(budget_change)
        body.insert(max(body.index(budget) + 1, len(body) // 2), budget_change)
    yield from body[:remaining]
    yield open_question


def generate_one(
    rng: random.Random, index: int, exchanges: tuple[int, int], prefix: str = "crm"
) -> dict[str, Any]:
    persona = Persona.draw(rng)
    conversation = Conversation(ident=f"{prefix}-{index:03d}", persona=persona, rng=rng)
    for exchange in plan(rng, rng.randint(*exchanges)):
        exchange(conversation)
    return {
        "id": conversation.ident,
        "request": {
            "model": MODEL,
            "max_tokens": 1024,
            "system": [{"type": "text", "text": SYSTEM_PROMPT.format(agent=persona.agent)}],
            "tools": TOOLS,
            "messages": conversation.messages,
        },
        "facts": conversation.facts,
    }


def generate(
    seed: int = DEFAULT_SEED,
    count: int = DEFAULT_COUNT,
    exchanges: tuple[int, int] = DEFAULT_EXCHANGES,
    prefix: str = "crm",
) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [generate_one(rng, index, exchanges, prefix) for index in range(count)]


def generate_long() -> list[dict[str, Any]]:
    """The long set: fewer conversations of 80-170 turns, for the prompt-caching replay."""
    return generate(LONG_SEED, LONG_COUNT, LONG_EXCHANGES, "crm-long")


def load(path: Path = DATA_FILE) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def write(conversations: list[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for conversation in conversations:
            handle.write(json.dumps(conversation, sort_keys=True) + "\n")
    turns = [len(c["request"]["messages"]) for c in conversations]
    print(f"wrote {len(conversations)} conversations to {path} ({min(turns)}-{max(turns)} turns)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--count", type=int, default=DEFAULT_COUNT)
    args = parser.parse_args()
    write(generate(args.seed, args.count), DATA_FILE)
    write(generate_long(), LONG_DATA_FILE)


if __name__ == "__main__":
    main()
