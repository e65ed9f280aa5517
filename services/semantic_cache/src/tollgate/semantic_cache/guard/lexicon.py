"""Word lists the near-miss guard reads. Hand-written for a real-estate CRM, documented in
docs/semantic_cache.md; each list says what it is for.

No named-entity model or gazetteer is available offline, so names are found by their shape
(capitals, possessives, street suffixes, words after "in"/"near"/"named"...). To tell a name from
an ordinary word when the shape is ambiguous — a capitalised first word, or a lower-case word
after "in" — the guard asks whether the word is in COMMON_WORDS: function words, the verbs people
start requests with, and the everyday vocabulary of property, leads and sales. A word outside the
list in those positions is treated as a name. Too small a list costs recall (paraphrases refused),
never safety.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words: never names, never the content a question hinges on.
FUNCTION_WORDS = _words(
    """
    a an the this that these those there here some any all each every both either neither
    no none not nor only own same so than too very just also even still yet already again
    i me my mine myself we us our ours ourselves you your yours yourself yourselves he him his
    himself she her hers herself it its itself they them their theirs themselves one ones
    who whom whose which what whatever whichever whoever when where why how
    am is are was were be been being have has had having do does did doing done
    will would shall should can could may might must ought
    i'm i've i'd i'll you're you've you'd you'll he's she's it's we're we've we'd we'll
    they're they've they'd they'll that's there's here's what's who's where's when's how's
    let's isn't aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't
    wouldn't shan't shouldn't can't cannot couldn't mustn't mightn't needn't
    of in on at by for with about against between into through during before after above below
    to from up down out off over under again further then once across along among around
    behind beside besides beyond inside near nearby outside past since toward towards upon
    via within without per plus minus like unlike versus vs
    and but or because as until while if unless whether though although whereas
    please thanks thank hi hello hey ok okay yes yeah sure well
    more most less least much many few fewer lot lots several enough such other another else
    """
)

# Verbs people open a request with, and other frequent verbs (all inflections that matter).
COMMON_VERBS = _words(
    """
    show find list give tell get send draft write compose create make generate prepare build
    summarize summarise summary explain describe compare analyze analyse assess evaluate
    estimate calculate compute check review recommend suggest propose rank sort filter
    schedule book set arrange plan remind follow help need want like love know think see
    look search browse pull fetch lookup look-up identify flag highlight note update add
    remove delete change edit rewrite rephrase shorten expand translate format outline
    call email text message reach contact ping notify invite confirm cancel reschedule
    buy sell rent lease list purchase afford offer negotiate counter close move relocate
    visit tour view showing shown open host price priced pricing value valued appraise
    qualify qualified score scored rate rated predict forecast project track report
    keep stay go come take bring put use try start stop begin end finish continue wait
    say said ask asked answer reply respond mean means include includes including included
    allow allows allowed permit permitted accept accepts accepted require requires required
    cost costs pay pays paid spend spent save saves saved earn owe borrow lend finance
    sold bought rented leased listed offered closed moved sent written made given told
    found shown got gotten taken seen known thought wanted needed liked built renovated
    happen happened happens work works worked seem seems seemed feel feels felt become
    interested interest interests respond responded engage engaged convert converted
    going doing getting looking trying asking selling buying renting listing moving
    """
)

# Everyday nouns, adjectives and adverbs of property, leads and sales.
COMMON_DOMAIN_WORDS = _words(
    """
    home homes house houses property properties listing listings place places unit units
    condo condos condominium apartment apartments apt flat flats townhouse townhouses
    townhome townhomes duplex triplex land lot lots acre acres acreage parcel building
    room rooms bedroom bedrooms bed beds bath baths bathroom bathrooms kitchen garage yard
    backyard garden pool basement attic roof floor floors story stories level levels
    fireplace patio deck balcony view views porch driveway fence parking space storage
    square feet foot sqft footage size area neighborhood neighbourhood neighborhoods
    district community street streets block city cities town towns county state region
    suburb suburbs suburban downtown uptown midtown school schools district zone zoning
    market markets price prices budget range cost costs fee fees tax taxes hoa insurance
    mortgage loan loans rate rates interest payment payments down deposit closing escrow
    appraisal inspection inspections offer offers contract contracts commission commissions
    agent agents broker brokers realtor realtors buyer buyers seller sellers owner owners
    landlord landlords tenant tenants renter renters investor investors client clients
    customer customers lead leads prospect prospects contact contacts person people family
    team manager office company account accounts pipeline deal deals sale sales
    email emails text texts message messages call calls phone voicemail note notes meeting
    meetings appointment appointments showing showings tour tours open visit visits
    follow follow-up followup feedback response responses reply replies question questions
    answer answers update updates report reports summary summaries script scripts template
    history activity activities status stage stages score scores rating ratings reason
    reasons step steps action actions task tasks plan plans strategy idea ideas tip tips
    option options choice choices chance chances risk risks issue issues problem problems
    time times day days week weeks weekend month months year years quarter date dates hour
    hours minute minutes morning afternoon evening night tonight today tomorrow yesterday
    now soon later recently lately currently usually often always never sometimes ever
    new old newer older newest oldest recent latest current previous next last first second
    good great best better bad worse worst nice big bigger biggest small smaller smallest
    large larger largest high higher highest low lower lowest cheap cheaper cheapest
    expensive affordable pricey luxury modern updated renovated move-in ready quiet safe
    close closer closest far near nearest walkable friendly pet pets pet-friendly dog dogs
    cat cats kid kids child children parent parents husband wife partner spouse
    available vacant occupied active pending sold off-market market-ready
    hot warm cold likely unlikely possible ready interested qualified unqualified
    average median total number count percent percentage amount value worth equity
    trend trends data stats statistics comparison comparables comps analysis overview
    detail details info information list way ways thing things kind type types sort
    main top bottom key important quick short long brief full whole entire general
    single family single-family multi multi-family commercial residential rental rentals
    investment investments cash financing financed pre-approval preapproval approval
    approved pre-approved first-time move moving relocation relocating downsizing
    upsizing school-district commute transit highway park parks shopping restaurants
    water electric utilities hvac ac heating cooling solar appliances repairs repair
    condition inspection staging photos photo video description descriptions headline
    ad ads campaign campaigns social post posts newsletter website page
    """
)

# Capitalised words that are not names even in the middle of a sentence.
CAPITALISED_COMMON = _words("i i'm i've i'd i'll ok okay")

# All-caps tokens that are abbreviations of ordinary words rather than names or programmes.
UPPERCASE_COMMON = _words("ok asap faq fyi eta tbd ps am pm tldr")

COMMON_WORDS = FUNCTION_WORDS | COMMON_VERBS | COMMON_DOMAIN_WORDS

# A lower-case word right after one of these is read as a name unless it is a common word:
# "homes in austin", "email to sarah", "the lead named okafor".
ENTITY_CUES = _words(
    """
    in near around at from to for with about by called named
    mr mrs ms miss dr lead client buyer seller contact prospect customer agent owner
    """
)

# Street suffixes. The word before one is a street name whatever its case ("oak st").
STREET_SUFFIXES = _words(
    """
    street st avenue ave road rd boulevard blvd lane ln parkway pkwy highway hwy terrace
    """
)
# These are ordinary words too ("test drive", "no way"), so they mark a street only after a
# capitalised word or a house number.
AMBIGUOUS_STREET_SUFFIXES = _words("drive dr court ct way place pl circle cir trail crescent")
