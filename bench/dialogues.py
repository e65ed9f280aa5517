"""Evaluation conversations for the conversation optimizer, written apart from its rules.

    uv run python -m bench.dialogues            # rewrites bench/data/dialogues_{dev,test}.jsonl
    uv run python -m bench.dialogues --check    # fails if the files or the frozen test split moved

How these differ from `bench.crm_conversations` (and why): that generator draws a persona from
name and number lists and fills sentence templates for each fact kind. These are built from
hand-written *case files* instead, one per situation a client of a property business may be in
(first home, renting, selling, relocating, an investment property, a rural home, downsizing,
a renovation). Each case file lists what its client says, in the client's own short words:

- facts as whole sentences, the fact itself marked `[[...]]` (the verbatim span that is labelled);
  many have no number or name at all: preferences, negations, constraints ("we don't own a
  car", "a credit instead of repairs", "well and septic");
- corrections: a later sentence for the same slot that replaces an earlier one ("actually",
  "instead", "we changed our mind", "no longer", or simply a new value), labelled old -> current;
- small talk and questions that carry no fact.

The assistant is written the other way round: long, natural answers that thank, restate the
client's situation in other words, explain the considerations at length (hand-written
paragraphs per topic) and end with a question; sometimes it quotes the client's words back.
Some conversations use tools (a search or an estimate) whose JSON results the assistant then
explains. A conversation picks 5-11 facts and 1-3 corrections of its case file, in a seeded
order, with fillers between, for 20-80 turns.

Labels per conversation: `facts` (every fact span a user stated, with its slot, the turn, and
whether a later correction superseded it) and `corrections` (slot, old span, current span). The
optimizer's code is not imported here and shares no word list with it.

The split is fixed by conversation number (40% test: numbers 0, 2 mod 5) and the test file's
sha256 is recorded in bench/data/dialogues_test.sha256; it was written before the optimizer was
tuned on the dev split, and `--check` (and `bench.pruning_dialogues`) refuse a test file that
does not match it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 7310
COUNT = 64
DATA_DIR = Path(__file__).parent / "data"
DEV_FILE = DATA_DIR / "dialogues_dev.jsonl"
TEST_FILE = DATA_DIR / "dialogues_test.jsonl"
TEST_CHECKSUM_FILE = DATA_DIR / "dialogues_test.sha256"
MODEL = "claude-sonnet-4-6"
SPAN = re.compile(r"\[\[(.+?)\]\]")


@dataclass(frozen=True)
class Correction:
    slot: str
    # The sentence that states the first value and the one that replaces it.
    first: str
    later: str


@dataclass(frozen=True)
class CaseFile:
    name: str
    system: str
    # slot -> sentence with its fact span marked
    facts: dict[str, str]
    corrections: list[Correction]
    # Hand-written explanations the assistant draws on, by slot ("*" for any).
    explanations: dict[str, list[str]]
    tool: dict[str, Any] | None = None
    small_talk: list[str] = field(default_factory=list)


GENERAL_EXPLANATIONS = [
    "There are a few moving parts here, so let me walk through how I usually think about it. "
    "The first thing is timing, because the market shifts from month to month and what is "
    "available in the spring can look very different from what is around in the late autumn. "
    "The second is flexibility: the more of your list that is a preference rather than a hard "
    "requirement, the more options we will be able to put in front of you.",
    "I want to make sure we are building this around what actually matters to you rather than "
    "around what the listings happen to emphasise. Listing descriptions tend to highlight "
    "finishes and staging, which photograph well, while the things that make day-to-day life "
    "easier, like storage, light and the commute, are easy to overlook until you have lived "
    "somewhere for a few months.",
    "It is completely normal for priorities to shift as you see more places, and I would much "
    "rather we adjust the plan now than have you feel boxed in later. Everything we discuss "
    "goes into your file, so whenever something changes, just tell me and I will update the "
    "search and let the rest of the team know as well.",
    "From experience, the people who end up happiest with their move are the ones who spend a "
    "little time up front separating the must-haves from the nice-to-haves. It sounds simple, "
    "but it changes how quickly we can say yes to a good option when it comes up, and good "
    "options do not tend to stay on the market for very long.",
]

CLOSING_QUESTIONS = [
    "Is there anything else about your situation you think I should know?",
    "Does that match how you were thinking about it?",
    "Would it help if I put together a short list based on this?",
    "What would you like to focus on next?",
    "Shall I go ahead and update the search with that in mind?",
]

OPENERS = [
    "Thank you, that is really helpful to know.",
    "That makes a lot of sense, and thank you for being so clear about it.",
    "Got it, I appreciate you sharing that.",
    "Great, that gives me a much better picture.",
    "Thanks for letting me know, that is an important detail.",
]

CORRECTION_OPENERS = [
    "No problem at all, plans change and it is much better to know now.",
    "Thanks for the update, I have changed that in your file.",
    "Understood, I will work from the new plan from here on.",
]

FILLERS = [
    "Okay, that makes sense.",
    "Can you explain that a bit more?",
    "What would you suggest as a next step?",
    "Hmm, let me think about that.",
    "Thanks, that's a lot to take in.",
    "Sounds good.",
    "How long does that usually take?",
    "Is that normal?",
    "What do most people in our position do?",
    "Good to know.",
]

FILLER_ANSWERS = [
    "Of course. The short version is that most of this process is about narrowing things down "
    "step by step. We start broad, look at what is actually out there, and then tighten the "
    "criteria as you react to real places rather than descriptions. Most people find that "
    "seeing three or four options in person tells them more than weeks of browsing online, "
    "because the feel of a street or the light in a room is hard to judge from photos.",
    "That is a very common question. Timelines vary quite a bit, but as a rough guide the "
    "searching stage takes a few weeks, the paperwork a few more, and there is usually some "
    "waiting in between for other people, such as inspectors, lenders or the other party, to "
    "do their part. I will keep you posted at every stage so nothing comes as a surprise, and "
    "if anything starts to slip I will tell you straight away rather than waiting.",
    "Yes, that is quite normal, and you are asking exactly the right questions. A lot of people "
    "in your position feel a bit overwhelmed at this point because there are so many decisions "
    "at once. My job is to keep track of the details so that you can focus on the big choices, "
    "and to flag anything that needs your attention well before it becomes urgent.",
    "Take all the time you need. There is no pressure to decide anything today. When you are "
    "ready, we can go through the options together, and I am happy to set up a quick call if "
    "it is easier to talk it through than to type everything out.",
]

CASE_FILES: list[CaseFile] = [
    CaseFile(
        name="first_home",
        system="You are a friendly assistant for a residential real-estate brokerage. You help "
        "first-time buyers plan their search and keep the agent informed.",
        facts={
            "people": "It's me and my husband, [[plus our two kids]].",
            "beds": "We need [[at least three bedrooms]].",
            "car": "[[We don't own a car]], so we need to be near the train.",
            "yard": "A [[small yard for the dog]] would be nice.",
            "pool": "[[No pool]], please. The kids are too young.",
            "stairs": "My mother visits a lot, so [[one bedroom on the ground floor]] matters.",
            "school": "We want to stay in [[the same school district]] if we can.",
            "style": "We [[prefer older houses with character]] over new builds.",
            "work": "I work from home, so [[a separate office space]] is important.",
            "hoa": "We'd [[rather avoid an HOA]].",
        },
        corrections=[
            Correction(
                "financing",
                "We're planning to [[pay all cash]] from the sale of my parents' place.",
                "Actually, we'll do [[25% down with a DSCR loan]] instead of cash.",
            ),
            Correction(
                "budget",
                "Our budget is [[around $450,000]].",
                "We talked it over and we can go up to [[$495,000]] now.",
            ),
            Correction(
                "move_date",
                "We'd like to be in [[before the school year starts]].",
                "We changed our mind on timing: [[any time before the winter holidays]] is fine.",
            ),
        ],
        explanations={
            "beds": [
                "Bedroom count is one of the biggest drivers of both price and availability in "
                "most neighbourhoods. Three-bedroom homes are the most common family layout, "
                "which is good news for choice, but it also means they attract the most "
                "competition, so it helps to be ready to move quickly when a good one appears."
            ],
            "car": [
                "Living without a car shapes the search in a really useful way, because it "
                "narrows us to places with good transit and walkable errands. I will look at "
                "walking distance to the station and to groceries for every option rather than "
                "just the straight-line distance, since the actual route can be quite different."
            ],
            "financing": [
                "How you pay affects more than the monthly numbers. Sellers often weigh the "
                "certainty of an offer as heavily as the price, and the type of financing "
                "changes how long closing takes, what inspections and appraisals are needed, "
                "and how much room there is to negotiate on repairs after the inspection."
            ],
            "budget": [
                "It helps to think of the budget as a range rather than a single figure. "
                "Closing costs, moving, and the small repairs every home needs in its first "
                "year all add up, so I usually suggest leaving some room below the absolute "
                "maximum so that the first months in the new place are not stressful."
            ],
        },
        tool={
            "name": "search_listings",
            "description": "Search active listings matching the client's criteria.",
            "properties": {"min_bedrooms": "integer", "max_price": "integer", "area": "string"},
        },
        small_talk=["We're excited but a bit nervous.", "My husband says hi, by the way."],
    ),
    CaseFile(
        name="renting",
        system="You are the leasing assistant of a property management company. You help "
        "prospective tenants find a rental and answer their questions.",
        facts={
            "pets": "We have [[a cat and an older beagle]].",
            "smoking": "[[Nobody in the household smokes]].",
            "laundry": "[[In-unit laundry is a must]].",
            "floor": "I'd [[prefer not to be on the ground floor]].",
            "parking": "[[We don't need parking]].",
            "noise": "I work nights, so [[a quiet building]] really matters.",
            "furnished": "[[Unfurnished is fine]], we have our own things.",
            "income": "My take-home is [[about $5,800 a month]].",
            "people": "It's [[just me and my partner Sam]].",
            "carpet": "[[No carpet in the bedrooms]], my partner has allergies.",
        },
        corrections=[
            Correction(
                "lease",
                "We want [[a twelve-month lease]].",
                "Scratch that, we'd prefer [[a six-month lease]] to start.",
            ),
            Correction(
                "rent",
                "We can pay [[up to $2,100]] a month.",
                "Our max rent is now [[$2,350]], my partner got a raise.",
            ),
            Correction(
                "move_date",
                "We need to move [[by the first of March]].",
                "Our current landlord extended us, so [[mid-April]] works instead.",
            ),
        ],
        explanations={
            "pets": [
                "Pets are one of the first things I check with a building, because policies "
                "vary a lot: some allow cats but not dogs, some limit the weight or the breed, "
                "and many charge a monthly pet rent on top of a deposit. It is much easier to "
                "filter on this up front than to fall in love with a place and find out later."
            ],
            "rent": [
                "Most buildings use an income-to-rent ratio when they review applications, "
                "often around three times the monthly rent. If you are close to that line, a "
                "guarantor or a larger deposit can sometimes bridge the gap, so it is worth "
                "knowing your options before we apply anywhere."
            ],
            "lease": [
                "Lease length is often negotiable, but shorter leases usually come with a "
                "higher monthly rent, since the owner carries the risk of turnover sooner. "
                "Some buildings offer a short lease that converts to month to month, which can "
                "be a good middle ground if you are not sure how long you will stay."
            ],
        },
        tool={
            "name": "find_rentals",
            "description": "Find available rental units.",
            "properties": {"max_rent": "integer", "pets": "string", "move_in": "string"},
        },
        small_talk=["Our current place is so loud.", "Thanks for getting back so fast."],
    ),
    CaseFile(
        name="selling",
        system="You are an assistant for a listing agent. You help homeowners prepare to sell "
        "and you keep the agent's notes up to date.",
        facts={
            "repairs": "We'd rather offer [[a credit instead of repairs]].",
            "staging": "[[We don't want to stage the house]], we're still living in it.",
            "showings": "[[No showings on Sunday mornings]].",
            "pets": "We'll [[take the dogs out during showings]].",
            "roof": "The roof was [[replaced in 2019]].",
            "people": "My wife [[Lorraine handles the paperwork]].",
            "sign": "[[No yard sign]], please, the neighbours are nosy.",
            "appliances": "[[The washer and dryer stay]] with the house.",
            "price": "We were hoping to list [[around $610,000]].",
            "reason": "We're selling because [[we're moving closer to her parents]].",
        },
        corrections=[
            Correction(
                "close_date",
                "We'd like to close [[by the end of June]].",
                "Actually we need [[a later closing, in August]], our new place isn't ready.",
            ),
            Correction(
                "rent_back",
                "[[We won't need a rent-back]].",
                "We changed our mind, [[we'd like a two-week rent-back]] after closing.",
            ),
            Correction(
                "fridge",
                "[[The fridge is staying]].",
                "We're no longer leaving the fridge: [[we're taking the fridge with us]].",
            ),
        ],
        explanations={
            "repairs": [
                "Offering a credit rather than doing the repairs yourselves is often the "
                "simpler path. It avoids scheduling contractors while you are packing, and it "
                "lets the buyers choose their own people and finishes. The trade-off is that "
                "some lenders limit how large a seller credit can be, so we will want to check "
                "the buyer's financing before agreeing to a specific figure."
            ],
            "price": [
                "Pricing is where I would like us to be careful. A home priced a little too "
                "high tends to sit, and a listing that sits invites lower offers later, so I "
                "will prepare a comparison of recent sales nearby before we settle on a "
                "number. Condition, timing and the season all play into it as well."
            ],
            "close_date": [
                "Closing dates are one of the easiest things to negotiate if we raise them "
                "early. Many buyers are flexible, especially if they are renting, and a date "
                "that suits you can sometimes be worth more to you than a slightly higher "
                "offer with a timeline that forces you to move twice."
            ],
        },
        tool={
            "name": "comparable_sales",
            "description": "Recent sales comparable to the client's home.",
            "properties": {"bedrooms": "integer", "radius_miles": "number"},
        },
        small_talk=["It's a bit emotional, we raised the kids here.", "Sorry for the delay."],
    ),
    CaseFile(
        name="rural",
        system="You are an assistant for a real-estate office that specialises in rural and "
        "small-town properties.",
        facts={
            "water": "We're fine with [[well and septic]].",
            "land": "We want [[a few acres for a garden and chickens]].",
            "internet": "I need [[reliable internet for video calls]].",
            "commute": "My husband [[can't drive more than 40 minutes to work]].",
            "heating": "[[No propane heat]], we had a bad experience with it.",
            "neighbours": "We [[don't want neighbours right next to us]].",
            "barn": "[[A barn or big shed]] would be a bonus.",
            "flood": "[[Nothing in a flood zone]].",
            "people": "It's the two of us and [[my father, who uses a wheelchair]].",
            "style": "We [[like single-storey homes]].",
        },
        corrections=[
            Correction(
                "budget",
                "We're looking [[under $380,000]].",
                "Our budget changed, we're now [[under $420,000]].",
            ),
            Correction(
                "area",
                "We're focused on [[the county north of the lake]].",
                "We'd rather look [[south of the river instead]], closer to my sister.",
            ),
            Correction(
                "fence",
                "[[We don't need fencing]].",
                "Actually, with the chickens, [[we do need a fenced area]] after all.",
            ),
        ],
        explanations={
            "water": [
                "Well and septic systems are very common out here and perfectly workable, but "
                "they come with their own checks. I always recommend a water test and a septic "
                "inspection as part of any offer, since a failing drain field can be an "
                "expensive surprise, and lenders sometimes require the water test anyway."
            ],
            "internet": [
                "Internet is the question I get most from people moving out of the city, and "
                "it is worth checking property by property. Coverage maps can be optimistic, "
                "so I ask sellers for a recent bill and, where I can, check with the provider "
                "directly whether the address itself can be served."
            ],
            "area": [
                "The area makes a real difference out here, not just for the drive but for "
                "taxes, school bus routes and how quickly the roads get cleared in winter. I "
                "will set up the search for the new area and send you a couple of examples so "
                "you can get a sense of what the budget buys there."
            ],
        },
        tool={
            "name": "search_rural",
            "description": "Search rural listings.",
            "properties": {"min_acres": "number", "max_price": "integer", "region": "string"},
        },
        small_talk=["We've been dreaming about this for years.", "The city is getting to us."],
    ),
    CaseFile(
        name="investor",
        system="You are an assistant for an agent who works with small residential investors.",
        facts={
            "type": "I'm looking for [[a duplex or a triplex]].",
            "condition": "[[I don't mind cosmetic work]], but no structural issues.",
            "management": "[[I'll self-manage]] for now.",
            "tenants": "I'd [[prefer units that are already rented]].",
            "short_term": "[[No short-term rentals]], too much hassle.",
            "people": "My business partner [[Inez will co-sign]].",
            "entity": "We'll [[buy through our LLC]].",
            "return": "I want [[at least break-even cash flow from day one]].",
            "inspection": "I [[always do a full inspection]], no waiving it.",
            "distance": "It should be [[within an hour of where I live]].",
        },
        corrections=[
            Correction(
                "financing",
                "I'm planning to [[pay all cash]] for this one.",
                "Change of plan: [[25% down with a DSCR loan]], I want to keep cash for repairs.",
            ),
            Correction(
                "budget",
                "My ceiling is [[$700,000]].",
                "I can stretch to [[$760,000]] for the right building.",
            ),
            Correction(
                "units",
                "[[Two units is enough]] for a first one.",
                "Instead of two units, I'd now like [[three or four units]].",
            ),
        ],
        explanations={
            "financing": [
                "The way you finance a rental changes what the deal has to do. With cash, "
                "any positive rent covers you, and you can close quickly, which sellers like. "
                "With a loan, the rent has to cover the payment, taxes, insurance and a "
                "reserve for vacancies and repairs, and loans that qualify on the property's "
                "income usually look closely at the current leases."
            ],
            "budget": [
                "On the budget side, I like to run every building at the asking price and at a "
                "realistic offer price, with conservative rents, so we can see quickly whether "
                "it is worth a visit. Buildings at the top of the range sometimes make more "
                "sense per unit than cheaper ones, so it is worth keeping both in view."
            ],
            "units": [
                "The number of units changes the kind of property and also the lending: up to "
                "four units is still treated as residential by most lenders, while five or "
                "more is a commercial loan with different terms. More units spread the "
                "vacancy risk, but they also mean more tenants to manage."
            ],
        },
        tool={
            "name": "analyze_property",
            "description": "Estimate rents, expenses and cash flow for a listing.",
            "properties": {"listing_id": "string", "down_payment_percent": "number"},
        },
        small_talk=["This would be my second property.", "Appreciate the patience."],
    ),
    CaseFile(
        name="relocation",
        system="You are a relocation assistant for a real-estate firm helping families that "
        "move to the city for work.",
        facts={
            "employer": "I'm transferring to [[the Northgate hospital]].",
            "people": "My wife [[Amara is a teacher]] and will look for work here.",
            "kids": "Our son [[needs a school with a special-ed program]].",
            "car": "[[We'll have just one car]].",
            "rent_first": "We'd [[like to rent first]] before we buy.",
            "furniture": "[[Our furniture arrives in six weeks]].",
            "garden": "[[We don't need a garden]].",
            "stairs": "[[No walk-ups]], we have a lot of heavy boxes.",
            "language": "My mother-in-law [[only speaks Portuguese]], so a community nearby "
            "would help.",
            "commute": "I [[start at 6 in the morning]], so the commute has to be short.",
        },
        corrections=[
            Correction(
                "arrival",
                "We arrive [[on the 14th of next month]].",
                "The company moved my start, we now arrive [[on the 28th]].",
            ),
            Correction(
                "housing",
                "We want [[a two-bedroom apartment]].",
                "Instead of an apartment, we'd like [[a small house]] so the kids can play.",
            ),
            Correction(
                "budget",
                "The company covers [[$3,000 a month]] for housing.",
                "HR corrected it: the allowance is [[$3,400 a month]].",
            ),
        ],
        explanations={
            "kids": [
                "School placement is usually the piece that takes longest to arrange, so I "
                "would like to start on it right away. Programmes and waiting lists differ "
                "a lot between districts, and the address you rent at often decides which "
                "schools you can apply to, so the school and the housing search go together."
            ],
            "arrival": [
                "Arrival dates drive everything else: when the temporary housing starts, when "
                "the furniture can be delivered and when we can book viewings. I will line up "
                "viewings for your first few days so that you can see places in person before "
                "committing to anything."
            ],
            "housing": [
                "Houses and apartments rent on quite different schedules, and houses tend to "
                "go quickly because there are fewer of them. I will widen the search to "
                "include houses and let you know what the allowance covers in each area."
            ],
        },
        small_talk=["It's a big move for all of us.", "The kids are asking lots of questions."],
    ),
    CaseFile(
        name="downsizing",
        system="You are an assistant for an agent who helps older clients downsize.",
        facts={
            "stairs": "[[No stairs at all]], my knees won't take it.",
            "garden": "I'd [[like a little garden to potter in]].",
            "people": "My daughter [[Claire helps me with decisions]].",
            "pets": "I have [[an elderly cat]].",
            "storage": "I [[don't need much storage]] any more.",
            "community": "I'd [[prefer a quiet community]], not a lively one.",
            "doctor": "I want to [[stay near my current doctor]].",
            "car": "[[I gave up driving last year]].",
            "kitchen": "[[A small kitchen is fine]], I don't cook much.",
            "guest": "I'd [[like a spare room for when the grandchildren visit]].",
        },
        corrections=[
            Correction(
                "type",
                "I'm thinking of [[a retirement community]].",
                "I've changed my mind, I'd [[rather have my own small bungalow]].",
            ),
            Correction(
                "sale",
                "I'll [[sell my house first]] and then buy.",
                "Claire convinced me to [[buy first and sell afterwards]].",
            ),
            Correction(
                "budget",
                "I'd like to spend [[no more than $300,000]].",
                "The house was valued higher, so I can spend [[up to $340,000]].",
            ),
        ],
        explanations={
            "stairs": [
                "Single-level living narrows the search but it is absolutely the right "
                "priority. I will also look at the approach to the front door, since a few "
                "steps up from the driveway can matter as much as stairs inside, and at "
                "whether the bathroom has a walk-in shower or could easily be given one."
            ],
            "type": [
                "Retirement communities and individual homes suit different people. A "
                "community takes care of maintenance and offers company, but comes with "
                "monthly fees and rules; a bungalow gives you more independence, with the "
                "garden and the upkeep that come with it."
            ],
            "sale": [
                "The order of selling and buying is mostly a question of comfort with risk. "
                "Selling first means you know exactly what you can spend, but you may need "
                "somewhere to stay in between; buying first avoids the double move but means "
                "carrying two homes for a while."
            ],
        },
        small_talk=["The house is just too big now.", "You've been very patient with me."],
    ),
    CaseFile(
        name="renovation",
        system="You are an assistant for a renovation company. You help homeowners scope "
        "their project and keep the project manager's notes current.",
        facts={
            "rooms": "It's [[the kitchen and the downstairs bathroom]].",
            "living": "[[We'll keep living in the house]] during the work.",
            "style": "We [[like simple, plain finishes]], nothing fancy.",
            "wall": "We'd like to [[open the wall between the kitchen and dining room]].",
            "gas": "[[No gas stove]], we want induction.",
            "people": "My partner [[Theo works from home]], so noise in the mornings is hard.",
            "permits": "We want [[everything permitted properly]].",
            "floor": "[[Keep the original wood floors]] if possible.",
            "pets": "[[The dog has to stay in the back room]] during the work.",
            "weekends": "[[No work on weekends]], please.",
        },
        corrections=[
            Correction(
                "budget",
                "We have [[about $60,000]] set aside.",
                "We refinanced, so the budget is now [[about $75,000]].",
            ),
            Correction(
                "start",
                "We'd like to start [[in early May]].",
                "Instead of May, [[after our trip in July]] would be better.",
            ),
            Correction(
                "cabinets",
                "We'll [[reuse the existing cabinets]].",
                "We're no longer keeping the cabinets; [[we want new cabinets]].",
            ),
        ],
        explanations={
            "budget": [
                "For a kitchen and a bathroom together, I always suggest keeping a "
                "contingency of around ten to fifteen percent, because older houses tend to "
                "hide things behind the walls. Once the project manager has seen the space we "
                "can give you a range for each room and show where choices move the total."
            ],
            "wall": [
                "Opening a wall is very doable, but we first need to know whether it is load "
                "bearing and what runs through it. If it carries load, we will need a beam "
                "and an engineer's drawing for the permit, which adds some time and cost but "
                "is completely routine."
            ],
            "cabinets": [
                "Cabinets are one of the larger line items in a kitchen, and lead times for "
                "new ones can be several weeks, so this affects the schedule as well as the "
                "budget. I will ask the project manager to include a couple of options at "
                "different price points in the estimate."
            ],
        },
        tool={
            "name": "estimate_project",
            "description": "Rough estimate for a renovation scope.",
            "properties": {"rooms": "string", "finish_level": "string"},
        },
        small_talk=["We've been putting this off for ages.", "Our neighbours just did theirs."],
    ),
]


@dataclass
class Builder:
    """One conversation as it is written, turn by turn, with its labels."""

    case: CaseFile
    rng: random.Random
    messages: list[dict[str, Any]] = field(default_factory=list)
    facts: list[dict[str, Any]] = field(default_factory=list)
    corrections: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: int = 0

    def user_says(self, sentence: str, slot: str | None) -> None:
        spans = SPAN.findall(sentence)
        text = SPAN.sub(r"\1", sentence)
        turn = len(self.messages)
        for span in spans:
            if slot is not None:
                for earlier in self.facts:
                    if earlier["slot"] == slot and not earlier["superseded"]:
                        earlier["superseded"] = True
                        self.corrections.append(
                            {"slot": slot, "old": earlier["text"], "new": span, "turn": turn}
                        )
                self.facts.append({"text": span, "slot": slot, "turn": turn, "superseded": False})
        self.messages.append({"role": "user", "content": [{"type": "text", "text": text}]})

    def assistant_explains(self, slot: str | None, quote: str | None, correction: bool) -> None:
        rng = self.rng
        parts = [rng.choice(CORRECTION_OPENERS if correction else OPENERS)]
        if quote is not None and rng.random() < 0.35:
            parts.append(f'Just to confirm I have it right: "{quote}".')
        pool = self.case.explanations.get(slot or "", []) or GENERAL_EXPLANATIONS
        parts.append(rng.choice(pool))
        if rng.random() < 0.6:
            parts.append(rng.choice(GENERAL_EXPLANATIONS))
        parts.append(rng.choice(CLOSING_QUESTIONS))
        self._assistant_text(" ".join(parts[:2]) + "\n\n" + "\n\n".join(parts[2:]))

    def _assistant_text(self, text: str) -> None:
        self.messages.append({"role": "assistant", "content": [{"type": "text", "text": text}]})

    def filler(self) -> None:
        rng = self.rng
        sentence = rng.choice(FILLERS + self.case.small_talk)
        self.messages.append({"role": "user", "content": [{"type": "text", "text": sentence}]})
        self._assistant_text(rng.choice(FILLER_ANSWERS) + "\n\n" + rng.choice(CLOSING_QUESTIONS))

    def tool_round(self) -> None:
        """The user asks for options; the assistant calls the case's tool and explains."""
        tool = self.case.tool
        assert tool is not None
        rng = self.rng
        self.tool_calls += 1
        call_id = f"toolu_{self.case.name}_{self.tool_calls:02d}"
        self.messages.append(
            {
                "role": "user",
                "content": [{"type": "text", "text": "Can you see what's out there right now?"}],
            }
        )
        arguments = {
            key: (rng.randint(2, 9) if kind in {"integer", "number"} else "as discussed")
            for key, kind in tool["properties"].items()
        }
        self.messages.append(
            {
                "role": "assistant",
                "content": [
                    {"type": "text", "text": "Let me check the current options for you."},
                    {"type": "tool_use", "id": call_id, "name": tool["name"], "input": arguments},
                ],
            }
        )
        results: list[dict[str, Any]] = [
            {
                "id": f"R{rng.randint(10000, 99999)}",
                "score": round(rng.uniform(0.4, 0.99), 2),
                "summary": rng.choice(
                    ["updated interior", "needs some work", "recently listed", "price reduced"]
                ),
                "days_listed": rng.randint(1, 90),
            }
            for _ in range(rng.randint(4, 9))
        ]
        self.messages.append(
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": call_id,
                        "content": [{"type": "text", "text": json.dumps({"results": results})}],
                    }
                ],
            }
        )
        best = max(results, key=lambda r: r["score"])
        self._assistant_text(
            f"I found {len(results)} options that fit reasonably well. The strongest match is "
            f"{best['id']}, which is {best['summary']} and has been available for "
            f"{best['days_listed']} days. Several of the others are close, but each of them "
            "misses at least one of the things you told me matter most, so I would not "
            "prioritise them yet.\n\n" + rng.choice(GENERAL_EXPLANATIONS) + "\n\n"
            "Would you like me to arrange a visit or pull more details on the top match?"
        )


def build(case: CaseFile, rng: random.Random, number: int) -> dict[str, Any]:
    builder = Builder(case, rng)
    slots = list(case.facts)
    rng.shuffle(slots)
    chosen_facts = slots[: rng.randint(5, min(11, len(slots)))]
    corrections = rng.sample(case.corrections, rng.randint(1, len(case.corrections)))
    # Events in speaking order: first values early, their corrections later.
    events: list[tuple[str, str, bool]] = [(s, case.facts[s], False) for s in chosen_facts]
    for correction in corrections:
        events.insert(rng.randint(0, len(events) // 2), (correction.slot, correction.first, False))
    for correction in corrections:
        first = next(i for i, e in enumerate(events) if e[1] == correction.first)
        events.insert(
            rng.randint(first + 2, len(events) + 1), (correction.slot, correction.later, True)
        )
    target_exchanges = rng.randint(10, 32)
    fillers = max(0, target_exchanges - len(events))
    for slot, sentence, is_correction in events:
        for _ in range(rng.randint(0, 2 * fillers // max(1, len(events)))):
            if fillers <= 0:
                break
            fillers -= 1
            if case.tool is not None and rng.random() < 0.25:
                builder.tool_round()
            else:
                builder.filler()
        builder.user_says(sentence, slot)
        spans = SPAN.findall(sentence)
        builder.assistant_explains(slot, spans[0] if spans else None, is_correction)
    while fillers > 0:
        fillers -= 1
        builder.filler()
    # Every request ends with the user's next message.
    builder.messages.append(
        {"role": "user", "content": [{"type": "text", "text": "So what should we do next?"}]}
    )
    request: dict[str, Any] = {
        "model": MODEL,
        "max_tokens": 1024,
        "system": [{"type": "text", "text": case.system}],
        "messages": builder.messages,
    }
    if case.tool is not None:
        request["tools"] = [
            {
                "name": case.tool["name"],
                "description": case.tool["description"],
                "input_schema": {
                    "type": "object",
                    "properties": {k: {"type": v} for k, v in case.tool["properties"].items()},
                },
            }
        ]
    return {
        "id": f"dialogue-{number:03d}-{case.name}",
        "case": case.name,
        "request": request,
        "facts": builder.facts,
        "corrections": builder.corrections,
    }


def generate(seed: int = SEED, count: int = COUNT) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [build(CASE_FILES[n % len(CASE_FILES)], rng, n) for n in range(count)]


def is_test(number: int) -> bool:
    return number % 5 in (0, 2)


def split(conversations: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dev = [c for n, c in enumerate(conversations) if not is_test(n)]
    test = [c for n, c in enumerate(conversations) if is_test(n)]
    return dev, test


def to_jsonl(conversations: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(c, sort_keys=True) + "\n" for c in conversations).encode()


def load(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def recorded_test_checksum() -> str:
    return TEST_CHECKSUM_FILE.read_text().split()[0]


def load_test() -> list[dict[str, Any]]:
    """The frozen test split; refuses a file whose checksum is not the recorded one."""
    data = TEST_FILE.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != recorded_test_checksum():
        raise SystemExit(f"{TEST_FILE} does not match its recorded sha256 ({digest})")
    return [json.loads(line) for line in data.decode().splitlines() if line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="verify instead of writing")
    parser.add_argument(
        "--freeze", action="store_true", help="also record the test split's sha256 (once)"
    )
    args = parser.parse_args()
    dev, test = split(generate())
    dev_bytes, test_bytes = to_jsonl(dev), to_jsonl(test)
    if args.check:
        if DEV_FILE.read_bytes() != dev_bytes or TEST_FILE.read_bytes() != test_bytes:
            raise SystemExit("bench/data/dialogues_*.jsonl are not what the generator makes")
        load_test()
        print("dialogues: dev and test files match the generator and the frozen checksum")
        return
    DEV_FILE.write_bytes(dev_bytes)
    TEST_FILE.write_bytes(test_bytes)
    if args.freeze:
        digest = hashlib.sha256(test_bytes).hexdigest()
        TEST_CHECKSUM_FILE.write_text(f"{digest}  {TEST_FILE.name}\n")
    turns = [len(c["request"]["messages"]) for c in dev + test]
    facts = sum(len(c["facts"]) for c in dev + test)
    corrections = sum(len(c["corrections"]) for c in dev + test)
    print(
        f"{len(dev)} dev + {len(test)} test conversations, {min(turns)}-{max(turns)} turns, "
        f"{facts} fact spans, {corrections} corrections"
    )


if __name__ == "__main__":
    main()
