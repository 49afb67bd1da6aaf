"""Writes resources/datasets/entities.conll, MetaLab's bundled few-shot NER dataset.

Every sentence shape and name list below was written for MetaLab (no third-party text). People,
companies, bands, books, films, teams, products, software, festivals, universities and most
rivers, mountains and cities are invented; countries, languages, dishes, medicines and diseases
are common nouns of the world. Sentences are drawn from about 150 hand-written shapes across
everyday topics, some opened with a short lead-in ("Apparently,"), and filled with names by a
fixed seed, so the file is reproducible:

    python scripts/make_ner_dataset.py            # rewrites the bundled file
    python scripts/make_ner_dataset.py --check    # fails if the file is out of date

Types are drawn so each one ends with a similar number of mentions.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parents[1] / "resources" / "datasets" / "entities.conll"
SENTENCES = 960
SEED = 14

NAMES: dict[str, list[str]] = {
    "PERSON": [
        "Mara Quillon", "Tobias Fenwright", "Ilse Varga", "Jonah Petrakis", "Nadia Okonkwo-Bell", "Ruben Castellane",
        "Priya Ramaswell", "Oskar Lindqvist", "Helena Marsh", "Dmitri Averin", "Lucia Benedetti", "Samuel Ashgrove",
        "Yuki Tanabe", "Felix Moreau", "Amara Diallo", "Conrad Weiss", "Elif Kaya", "Theo Brandt", "Sofia Almeida",
        "Gideon Harrow", "Marguerite Olsen", "Kofi Mensah", "Beatrix Lowe", "Ines Carvalho", "Arjun Mehta",
        "Clara Voss", "Emeka Adeyemi", "Rosalind Finch", "Viktor Hale", "Maya",
    ],
    "CITY": [
        "Port Alder", "Velmora", "Brightwater", "Kessing", "San Aurelio", "Dunmere", "Ostrava Nova", "Lindenfeld",
        "Carrowick", "Mirabel Bay", "Tessaly", "Greywick", "Novo Sarin", "Halvard", "Quenton", "Eastmoor",
        "Saint Ivel", "Ravensholm", "Corvada", "Amberly", "Lakemont", "Virelle", "Stonehaven", "Palmira Vieja",
    ],
    "COUNTRY": [
        "Portugal", "Kenya", "Norway", "Chile", "Vietnam", "Canada", "Morocco", "Finland", "Peru", "Japan",
        "Ghana", "Ireland", "Mexico", "New Zealand", "Egypt", "Austria", "India", "Argentina", "Poland", "Greece",
        "South Korea", "Iceland", "Brazil", "Tunisia",
    ],
    "RIVER": [
        "Vessa", "Oranmoor", "Little Kell", "Sarrow", "Tamble", "Dunrow", "Ilvane", "Merrin", "Black Ashwater",
        "Calder Run", "Ostwyn", "Pellow", "Silverbrook", "Rannoch Water", "Vaya", "Great Ember", "Lune Creek",
        "Torrant", "Elsk", "Marrowflow",
    ],
    "MOUNTAIN": [
        "Mount Karvel", "Greyhorn", "Mount Esk", "the Tallow Peak", "Sentinel Crag", "Mount Orrin", "Ashbeard",
        "Kestrel Spire", "Mount Valdor", "the Hollow Tooth", "Brannoch Fell", "Mount Sereth", "Cloudmere",
        "White Anvil", "Mount Tibbet", "Storrhorn", "Eagle Dome", "Mount Ilsa",
    ],
    "COMPANY": [
        "Brightloom", "Northgate Freight", "Kestrel Labs", "Orvane Foods", "Tidewell Energy", "Quillhaven Press",
        "Marrow & Finch", "Solvent Dynamics", "Pinecrest Mutual", "Hexaline", "Copperleaf Bank", "Ardent Motors",
        "Bluecairn Telecom", "Vantor Systems", "Greenmill Dairy", "Halcyon Air", "Ironbridge Steel", "Lumen Retail",
        "Oakhurst Insurance", "Zephyr Logistics",
    ],
    "UNIVERSITY": [
        "Velmora University", "the University of Dunmere", "Kessing Polytechnic", "Brightwater College",
        "Halvard Institute of Technology", "the University of Port Alder", "Saint Ivel College", "Lakemont University",
        "Corvada School of Medicine", "Greywick Academy of Music", "the Technical University of Tessaly",
        "Eastmoor State University", "Amberly Open University", "Lindenfeld University",
    ],
    "TEAM": [
        "Port Alder Gulls", "Velmora Rovers", "Kessing Hawks", "the Dunmere Foxes", "Brightwater United",
        "Halvard Lions", "Quenton City", "the Eastmoor Owls", "Saint Ivel Athletic", "Corvada Storm",
        "Greywick Wanderers", "the Lakemont Bears", "Amberly Rangers", "Tessaly Titans", "Ravensholm Harriers",
    ],
    "BAND": [
        "The Paper Lanterns", "Velvet Tideline", "Nine Quiet Rooms", "The Marrow Kites", "Glass Orchard",
        "Saltwater Choir", "The Copper Moths", "Hollow Parade", "Midnight Cartographers", "The Rusty Anchors",
        "Static Meadow", "Low Sky Radio", "The Juniper Twins", "Northbound Echo", "Lanterns of Ash",
    ],
    "BOOK": [
        "The Salt Road", "A House of Small Hours", "Winter in Velmora", "The Last Cartographer", "Brass and Ivy",
        "Letters to the Lighthouse", "The Glass Botanist", "Nine Ways to Leave", "The Orchard Keeper's Daughter",
        "Under the Copper Moon", "A Short History of Rain", "The Clockmaker's Promise", "Quiet Harbours",
        "The Moth Atlas", "Songs for an Empty Station",
    ],
    "FILM": [
        "Starfall Junction", "The Ninth Ferry", "Midnight at the Observatory", "Paper Tigers Roar", "Dust on the Rails",
        "The Silent Orchard", "Harbour Lights", "Operation Kingfisher", "Blue Hour", "The Borrowed Summer",
        "Iron Lullaby", "Return to Greyhorn", "A Map of Strangers", "The Velvet Heist", "Small Gods of Eastmoor",
    ],
    "DISH": [
        "paella", "ramen", "moussaka", "pad thai", "shakshuka", "pierogi", "goulash", "risotto", "falafel",
        "bibimbap", "ceviche", "lasagne", "pho", "tagine", "biryani", "gnocchi", "borscht", "empanadas",
        "jollof rice", "fish and chips",
    ],
    "MEDICINE": [
        "ibuprofen", "paracetamol", "amoxicillin", "metformin", "insulin", "aspirin", "omeprazole", "cetirizine",
        "prednisolone", "salbutamol", "loratadine", "atorvastatin", "naproxen", "doxycycline", "melatonin",
        "Zorvalin", "Calmexa", "Respiron",
    ],
    "DISEASE": [
        "influenza", "measles", "asthma", "diabetes", "malaria", "tuberculosis", "chickenpox", "migraine",
        "pneumonia", "hay fever", "bronchitis", "shingles", "tonsillitis", "gout", "anaemia", "whooping cough",
        "Lyme disease", "dengue fever",
    ],
    "LANGUAGE": [
        "Portuguese", "Swahili", "Finnish", "Japanese", "Welsh", "Hindi", "Arabic", "Polish", "Greek", "Korean",
        "Icelandic", "Spanish", "Vietnamese", "Turkish", "Dutch", "Mandarin", "Yoruba", "Basque",
    ],
    "FESTIVAL": [
        "the Lantern Festival of Velmora", "Brightwater Jazz Week", "the Harvest Moon Fair", "Kessing Film Days",
        "the Festival of Kites", "Dunmere Book Fair", "Eastmoor Folk Nights", "the Winter Light Parade",
        "Tessaly Street Food Week", "the Greyhorn Mountain Games", "Saltwater Sound Festival", "the Copper Bell Carnival",
        "Lakemont Science Fair", "the Amberly Regatta",
    ],
    "PRODUCT": [
        "Nimbus X2", "Pebblephone 7", "Aurora Kettle", "the Trailblazer 400", "Lumo Desk Lamp", "Echo Buds Mini",
        "Vantor Watch S", "Glide e-bike", "Hearthstone Oven", "the Polar Cooler", "Sprout Blender", "Orbit Drone",
        "Kestrel Camera K5", "Featherlight Tent", "Driftwood Speaker",
    ],
    "SOFTWARE": [
        "Ledgerly", "TaskWeaver", "PixelForge", "Quillnote", "CloudCabinet", "Meridian OS", "Sparrow Mail",
        "DataHarbor", "Tempo Planner", "ByteWarden", "Lingolab", "Atlas Maps", "Chordsmith", "FrameShift Studio",
    ],
}

# Sentence shapes. {TYPE} is one mention; a type may appear twice (different names).
SHAPES = [
    # travel and places
    "{PERSON} grew up in {CITY} before moving to {COUNTRY} for work .",
    "We took the night train from {CITY} to {CITY} and slept most of the way .",
    "The ferry crosses the {RIVER} twice a day in summer .",
    "Is it true that the {RIVER} freezes over every winter ?",
    "From the hotel roof you can see {MOUNTAIN} on a clear morning .",
    "Climbing {MOUNTAIN} takes two days if the weather holds .",
    "Nobody in our group had ever been to {COUNTRY} before this trip .",
    "My cousin has lived in {CITY} for years but still gets lost near the old harbour .",
    "The road between {CITY} and {MOUNTAIN} was closed after the landslide .",
    "They built the first bridge over the {RIVER} in {CITY} almost two centuries ago .",
    "Flights to {COUNTRY} are cheaper if you book in March .",
    "The {RIVER} rises in the hills below {MOUNTAIN} and reaches the sea near {CITY} .",
    "I would rather hike {MOUNTAIN} than spend another weekend in {CITY} .",
    "Her parents run a small guesthouse on the banks of the {RIVER} .",
    "Is {CITY} the capital of {COUNTRY} , or am I thinking of somewhere else ?",
    "The mist on {MOUNTAIN} never really lifts before noon .",
    "Kayakers say the lower {RIVER} is calmer than it looks .",
    "{PERSON} photographed {MOUNTAIN} from every side for a new exhibition .",
    "Most people in {COUNTRY} speak {LANGUAGE} at home .",
    "The tour guide switched from {LANGUAGE} to {LANGUAGE} halfway through the walk .",
    # people and work
    "{PERSON} joined {COMPANY} as an engineer straight after university .",
    "{PERSON} and {PERSON} founded {COMPANY} in a garage in {CITY} .",
    "After twenty years at {COMPANY} , {PERSON} finally retired .",
    "Shares in {COMPANY} fell sharply on Tuesday morning .",
    "{COMPANY} will open a new office in {CITY} next autumn .",
    "The union at {COMPANY} has called a strike for Friday .",
    "{COMPANY} bought {COMPANY} for an undisclosed sum .",
    "Our landlord , {PERSON} , insists the heating works fine .",
    "I met {PERSON} at a conference in {COUNTRY} last year .",
    "{PERSON} was named chief executive of {COMPANY} on Monday .",
    "Please forward the invoice to {PERSON} in accounts .",
    "{COMPANY} is hiring drivers in {CITY} and the surrounding villages .",
    "According to {PERSON} , the merger with {COMPANY} is off .",
    "My neighbour {PERSON} repairs old clocks as a hobby .",
    # education
    "{PERSON} teaches chemistry at {UNIVERSITY} .",
    "She was accepted to {UNIVERSITY} to study {LANGUAGE} literature .",
    "{UNIVERSITY} has the oldest library in {CITY} .",
    "Researchers at {UNIVERSITY} found a link between sleep and {DISEASE} .",
    "He dropped out of {UNIVERSITY} to start {COMPANY} .",
    "Tuition at {UNIVERSITY} went up again this year .",
    "{UNIVERSITY} and {COMPANY} signed a research agreement on batteries .",
    "My sister is doing a master's at {UNIVERSITY} in {COUNTRY} .",
    "The rowing club of {UNIVERSITY} trains on the {RIVER} at dawn .",
    "Students at {UNIVERSITY} built a weather station on {MOUNTAIN} .",
    # sport
    "{TEAM} beat {TEAM} three goals to one on Saturday .",
    "{PERSON} scored twice in the second half for {TEAM} .",
    "Tickets for the {TEAM} home game sold out in an hour .",
    "Have you seen the new kit {TEAM} are wearing this season ?",
    "{TEAM} signed a young striker from {COUNTRY} .",
    "The coach of {TEAM} , {PERSON} , resigned after the defeat .",
    "Fans of {TEAM} marched through {CITY} after the final .",
    "{TEAM} have not won away from home since October .",
    "My dad has supported {TEAM} since he was a boy .",
    "The stadium of {TEAM} is being rebuilt with money from {COMPANY} .",
    "{PERSON} ran the marathon around {MOUNTAIN} in under four hours .",
    # music
    "{BAND} played a sold-out show in {CITY} last night .",
    "The new album by {BAND} sounds nothing like their first one .",
    "{PERSON} left {BAND} to go solo .",
    "I first heard {BAND} on the radio while driving to {CITY} .",
    "{BAND} will headline {FESTIVAL} this year .",
    "Did you know the drummer of {BAND} studied at {UNIVERSITY} ?",
    "{BAND} wrote the soundtrack for {FILM} .",
    "We queued for hours to see {BAND} at {FESTIVAL} .",
    "{BAND} cancelled their tour of {COUNTRY} because of illness .",
    "Half the songs {BAND} play are about the {RIVER} .",
    # books and film
    "{PERSON} wrote {BOOK} while living in {CITY} .",
    "Have you read {BOOK} yet ? Everyone in my club loved it .",
    "{BOOK} was translated into {LANGUAGE} last year .",
    "The film {FILM} is loosely based on {BOOK} .",
    "{FILM} opens in cinemas across {COUNTRY} on Friday .",
    "{PERSON} plays a lighthouse keeper in {FILM} .",
    "I fell asleep halfway through {FILM} , sorry .",
    "{FILM} was shot on location near {MOUNTAIN} .",
    "Critics hated {FILM} but audiences in {CITY} queued around the block .",
    "My book group is reading {BOOK} this month .",
    "{PERSON} won a prize for {BOOK} , a novel about a flooded town .",
    "The sequel to {FILM} is already being filmed in {COUNTRY} .",
    "{BOOK} ends with a storm on the {RIVER} .",
    "There is a {LANGUAGE} dub of {FILM} , but the subtitles are better .",
    "The premiere of {FILM} closed {FESTIVAL} .",
    "{PERSON} directed {FILM} on a tiny budget .",
    # food
    "We had {DISH} for dinner and {DISH} for lunch the next day .",
    "The best {DISH} I ever ate was in a tiny place in {CITY} .",
    "Can you teach me how to make {DISH} ?",
    "{PERSON} makes {DISH} every Sunday for the whole family .",
    "The restaurant near the {RIVER} serves {DISH} on Fridays only .",
    "{DISH} is a national favourite in {COUNTRY} .",
    "I ordered {DISH} but they brought {DISH} instead .",
    "Stalls at {FESTIVAL} sell {DISH} until midnight .",
    "{COMPANY} now sells frozen {DISH} in supermarkets .",
    "Is there a vegetarian version of {DISH} ?",
    "My grandmother 's {DISH} recipe came with her from {COUNTRY} .",
    # health
    "The doctor prescribed {MEDICINE} for her {DISEASE} .",
    "Take {MEDICINE} twice a day with food .",
    "Doctors in {CITY} saw more cases of {DISEASE} this winter than last .",
    "Do not mix {MEDICINE} with {MEDICINE} without asking a pharmacist .",
    "He has had {DISEASE} since he was a child .",
    "A new treatment for {DISEASE} is being tested in {COUNTRY} .",
    "{MEDICINE} helped with the pain but not with the fever .",
    "The pharmacy had run out of {MEDICINE} again .",
    "Cases of {DISEASE} have fallen since the campaign began .",
    "{PERSON} is leading a study of {DISEASE} at {UNIVERSITY} .",
    "{COMPANY} recalled a batch of {MEDICINE} on Thursday .",
    "Is {MEDICINE} safe to take if you have {DISEASE} ?",
    "My son was diagnosed with {DISEASE} , so we stayed home all week .",
    "The clinic in {CITY} treats {DISEASE} for free .",
    # language
    "{PERSON} speaks {LANGUAGE} , {LANGUAGE} and a little {LANGUAGE} .",
    "I have been learning {LANGUAGE} with {SOFTWARE} for three months .",
    "The museum labels are only in {LANGUAGE} .",
    "Her first novel was written in {LANGUAGE} and only later in English .",
    "Is {LANGUAGE} hard to learn if you already speak {LANGUAGE} ?",
    "Road signs in the north of {COUNTRY} are in {LANGUAGE} as well .",
    # festivals
    "{FESTIVAL} starts on the first weekend of June .",
    "We met at {FESTIVAL} and have been friends ever since .",
    "This year {FESTIVAL} moved from {CITY} to {CITY} .",
    "{COMPANY} is the main sponsor of {FESTIVAL} .",
    "The fireworks at {FESTIVAL} could be seen from {MOUNTAIN} .",
    "Volunteers for {FESTIVAL} get free entry and a T-shirt .",
    "{PERSON} has organised {FESTIVAL} for ten years .",
    "Rain ruined the last day of {FESTIVAL} .",
    # products
    "The battery on my {PRODUCT} lasts about two days .",
    "{COMPANY} launched {PRODUCT} at a small event in {CITY} .",
    "Should I buy {PRODUCT} or wait for the next model ?",
    "My {PRODUCT} stopped working a week after the warranty ran out .",
    "{PRODUCT} is sold out in every shop in {CITY} .",
    "Reviewers loved the screen on {PRODUCT} but not the price .",
    "We took {PRODUCT} on our camping trip to {MOUNTAIN} .",
    "{PERSON} designed {PRODUCT} while still at {UNIVERSITY} .",
    "Returns for {PRODUCT} must be made within thirty days .",
    "Does {PRODUCT} work with {SOFTWARE} ?",
    # software
    "I keep my accounts in {SOFTWARE} because the bank's app is awful .",
    "{COMPANY} moved its whole office to {SOFTWARE} last spring .",
    "The latest update to {SOFTWARE} broke the export button .",
    "{SOFTWARE} crashes every time I open a large file .",
    "Our team plans every sprint in {SOFTWARE} .",
    "{PERSON} wrote the first version of {SOFTWARE} in a weekend .",
    "Is there a way to sync {SOFTWARE} with {SOFTWARE} ?",
    "Students at {UNIVERSITY} get {SOFTWARE} for free .",
    "You can download {SOFTWARE} in {LANGUAGE} now .",
    "{SOFTWARE} runs fine on {PRODUCT} , surprisingly .",
    # mixed
    "{PERSON} flew from {CITY} to {COUNTRY} to watch {TEAM} play .",
    "After the concert by {BAND} we went for {DISH} near the {RIVER} .",
    "The author of {BOOK} will speak at {FESTIVAL} on Sunday .",
    "{PERSON} was treated for {DISEASE} after coming down from {MOUNTAIN} .",
    "{COMPANY} paid for the new rowing boats on the {RIVER} .",
    "The cast of {FILM} includes {PERSON} and {PERSON} .",
]

LEAD_INS = [
    "Apparently ,", "According to the local paper ,", "To be honest ,", "As far as I know ,", "As it happens ,",
    "Believe it or not ,", "If I remember rightly ,", "A friend told me that", "For what it's worth ,",
    "Oddly enough ,", "By the way ,", "I read that", "Just so you know ,", "Honestly ,", "So ,",
]
KEEP_CAPITAL = {"I", "I'd", "I'm"}
NO_LEAD_IN = {"Please", "Take", "Do", "Can", "Have", "Is", "Should", "Does", "Did"}
TOKEN = re.compile(r"\w+(?:['’\-.&]\w+)*|[^\w\s]")
SLOT = re.compile(r"\{([A-Z]+)\}")


def tokenize(text: str) -> list[str]:
    return TOKEN.findall(text)


def fill(shape: str, rng: np.random.Generator, lead_in: str | None) -> tuple[list[str], list[str]]:
    tokens: list[str] = []
    tags: list[str] = []
    if lead_in:
        tokens += tokenize(lead_in)
        tags += ["O"] * len(tokenize(lead_in))
    used: dict[str, set[int]] = {}
    pieces = SLOT.split(shape)  # text, TYPE, text, TYPE, ...
    for position, piece in enumerate(pieces):
        if position % 2 == 0:
            words = tokenize(piece)
            if lead_in and not tokens[len(tokenize(lead_in)) :] and words and words[0] not in KEEP_CAPITAL:
                words[0] = words[0][0].lower() + words[0][1:]
            tokens += words
            tags += ["O"] * len(words)
            continue
        names = NAMES[piece]
        taken = used.setdefault(piece, set())
        choice = int(rng.choice([i for i in range(len(names)) if i not in taken]))
        taken.add(choice)
        words = tokenize(names[choice])
        if words[0] == "the":  # an article, not part of the name: "the Tallow Peak"
            words = words[1:]
            if not tokens or tokens[-1].lower() != "the":
                tokens.append("the")
                tags.append("O")
        if words[0].islower() and (not tokens or tokens == ["the"]):
            words[0] = words[0].capitalize()  # "Paella is ..." at the start of a sentence
        tokens += words
        tags += [f"B-{piece}"] + [f"I-{piece}"] * (len(words) - 1)
    if tokens[0] == "the":
        tokens[0] = "The"
    return tokens, tags


def takes_lead_in(shape: str) -> bool:
    """Statements only: "Apparently , can you teach me ..." would not be English."""
    return shape.endswith(" .") and shape.split()[0] not in NO_LEAD_IN


def generate() -> list[tuple[list[str], list[str]]]:
    rng = np.random.default_rng(SEED)
    by_type = {kind: [s for s in SHAPES if f"{{{kind}}}" in s] for kind in NAMES}
    counts: Counter[str] = Counter()
    seen: set[str] = set()
    sentences = []
    while len(sentences) < SENTENCES:
        if rng.random() < 0.5:  # half the time, a shape with the rarest type so far
            rarest = min(NAMES, key=lambda kind: (counts[kind], kind))
            pool = by_type[rarest]
        else:
            pool = SHAPES
        shape = pool[int(rng.integers(len(pool)))]
        lead_in = LEAD_INS[int(rng.integers(len(LEAD_INS)))] if rng.random() < 0.25 and takes_lead_in(shape) else None
        tokens, tags = fill(shape, rng, lead_in)
        text = " ".join(tokens)
        if text in seen:
            continue
        seen.add(text)
        sentences.append((tokens, tags))
        counts.update(tag[2:] for tag in tags if tag.startswith("B-"))
    return sentences


def render(sentences: list[tuple[list[str], list[str]]]) -> str:
    blocks = ["\n".join(f"{token}\t{tag}" for token, tag in zip(tokens, tags)) for tokens, tags in sentences]
    return "\n\n".join(blocks) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if the bundled file differs from what this writes")
    args = parser.parse_args()
    text = render(generate())
    if args.check:
        if OUT.read_text(encoding="utf-8") != text:
            print(f"{OUT} is out of date: run scripts/make_ner_dataset.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
