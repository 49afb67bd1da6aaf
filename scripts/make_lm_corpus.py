"""Writes resources/datasets/domains.csv: the bundled multi-domain corpus for language
modelling (task.type = "language_modeling"). Every sentence frame and word list below was
written for MetaLab; documents are three of a domain's frames with its slots filled, drawn
with a fixed seed, so the file is reproducible. Run: python scripts/make_lm_corpus.py"""

from __future__ import annotations

import csv
import random
from pathlib import Path

DOCS_PER_DOMAIN = 40
SENTENCES_PER_DOC = 3

# domain -> (sentence frames with {slots}, slot -> choices)
DOMAINS: dict[str, tuple[list[str], dict[str, list[str]]]] = {
    "weather_report": ([
        "Expect {sky} skies over the {region} this {time}, with highs near {temp} degrees.",
        "A {wind} wind from the {dir} will ease by {time}.",
        "Showers may drift into the {region} after {time}, so keep an umbrella close.",
        "Overnight the temperature falls to {temp} degrees under {sky} skies.",
        "Fog lingers in the valleys of the {region} until late {time}.",
        "The outlook for the weekend stays {sky}, with a {wind} breeze from the {dir}.",
    ], {"sky": ["clear", "cloudy", "grey", "bright", "hazy", "patchy"], "region": ["north coast", "central plains", "eastern hills", "southern valleys", "western isles"],
        "time": ["morning", "afternoon", "evening", "midday"], "temp": ["four", "nine", "twelve", "seventeen", "twenty", "twenty-six"],
        "wind": ["light", "gusty", "steady", "cold", "warm"], "dir": ["north", "south", "east", "west", "northwest"]}),
    "recipe": ([
        "Whisk the {item} with a pinch of {spice} until smooth.",
        "Chop the {veg} finely and fry it in butter for {mins} minutes.",
        "Fold in the {item} and season with {spice} to taste.",
        "Bake at a moderate heat for {mins} minutes, until the top turns golden.",
        "Let the {veg} rest in the pan while the sauce thickens.",
        "Serve warm with a spoon of {item} and a sprinkle of {spice}.",
    ], {"item": ["eggs", "cream", "yogurt", "flour", "butter", "rice"], "spice": ["salt", "nutmeg", "cumin", "paprika", "black pepper", "thyme"],
        "veg": ["onion", "leek", "carrot", "fennel", "pepper", "courgette"], "mins": ["five", "ten", "fifteen", "twenty", "forty"]}),
    "match_report": ([
        "{team} pressed early and {player} struck the post in the {minute} minute.",
        "The keeper for {team} made a fine save to keep the score level.",
        "{player} curled a free kick into the top corner just before half time.",
        "After the break {team} sat deep and defended their narrow lead.",
        "A late header from {player} sealed a {result} for the visitors.",
        "The crowd at {ground} rose as the final whistle confirmed the {result}.",
    ], {"team": ["Riverside", "Old Harbour", "Hill Town", "North End", "Castle Park"], "player": ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Byrne", "Costa"],
        "minute": ["fifth", "twelfth", "thirtieth", "sixtieth", "eighty-fifth"], "result": ["draw", "win", "narrow win", "heavy defeat"],
        "ground": ["the Meadow", "Quay Road", "the Old Mill", "Stone Lane"]}),
    "ship_log": ([
        "Wind {dir}, force {force}; we held a course of {bearing} degrees.",
        "Reefed the mainsail at {hour} bells as the swell built.",
        "Sighted a {vessel} off the {side} bow, bound for harbour.",
        "Pumped the bilge at {hour} bells; little water taken.",
        "The crew mended the {gear} and stowed it below.",
        "Barometer falling; all hands warned to secure the {gear}.",
    ], {"dir": ["north", "south-west", "east by north", "west"], "force": ["three", "four", "five", "six", "seven"],
        "bearing": ["ninety", "one hundred and ten", "two hundred", "three hundred and forty"], "hour": ["two", "four", "six", "eight"],
        "vessel": ["fishing smack", "steamer", "schooner", "pilot boat"], "side": ["port", "starboard"], "gear": ["jib", "anchor chain", "rigging", "lantern"]}),
    "garden_diary": ([
        "Sowed a row of {plant} along the {place} today.",
        "The {plant} finally showed their first green shoots.",
        "Slugs found the {plant} again, so I set out a saucer of beer.",
        "Watered the {place} twice, the soil was dry as dust.",
        "Pulled {weed} from the {place} for most of the afternoon.",
        "Mulched the {plant} with {mulch} before the cold nights arrive.",
    ], {"plant": ["beans", "lettuces", "sweet peas", "marigolds", "radishes", "courgettes"], "place": ["back fence", "greenhouse", "raised bed", "path", "old wall"],
        "weed": ["bindweed", "nettles", "dandelions", "couch grass"], "mulch": ["straw", "leaf mould", "compost", "bark"]}),
    "gadget_review": ([
        "The {device} feels {feel} in the hand and the battery lasts {hours} hours.",
        "Setup took {mins} minutes and the app never crashed once.",
        "Its {part} is the weak point: {flaw}.",
        "For the price, the {device} is {verdict}.",
        "Sound from the {part} is {feel} but a little thin at high volume.",
        "I would recommend the {device} to anyone who {use}.",
    ], {"device": ["speaker", "smartwatch", "e-reader", "headset", "tablet", "camera"], "feel": ["solid", "light", "cheap", "premium", "sturdy"],
        "hours": ["six", "ten", "twenty", "thirty", "forty-eight"], "mins": ["two", "five", "ten", "twenty"], "part": ["charging port", "screen", "hinge", "speaker grille", "strap"],
        "flaw": ["it scratches easily", "it wobbles", "it gets warm", "it feels loose"], "verdict": ["a bargain", "fair value", "overpriced", "hard to beat"],
        "use": ["travels a lot", "reads in bed", "runs every morning", "works from home"]}),
    "rail_announcement": ([
        "The {time} service to {city} will depart from platform {platform}.",
        "We apologise: the train to {city} is delayed by {mins} minutes.",
        "This train calls at {city} and {city2}; please mind the gap.",
        "Passengers for {city2} should change at the next station.",
        "Due to {reason}, the {time} service to {city} is cancelled.",
        "Please keep your luggage with you at all times on platform {platform}.",
    ], {"time": ["seven fifteen", "nine forty", "twelve ten", "five thirty", "eight o'clock"], "city": ["Ashford", "Milbrook", "Dunmore", "Kestrel Bay", "Fairholt"],
        "city2": ["Oakridge", "Saltmarsh", "Highcross", "Elmstead"], "platform": ["one", "two", "four", "seven", "nine"], "mins": ["five", "ten", "fifteen", "twenty-five"],
        "reason": ["a signal failure", "a fallen tree", "a shortage of staff", "flooding on the line"]}),
    "fairy_tale": ([
        "Once upon a time a {hero} lived at the edge of a {place}.",
        "One night a {creature} knocked at the door and asked for {gift}.",
        "The {hero} shared {gift}, and the {creature} promised to repay the kindness.",
        "Three winters later the {creature} returned with a {treasure}.",
        "So the {hero} crossed the {place} and never went hungry again.",
        "And if they have not died, they live there still, beside the {place}.",
    ], {"hero": ["woodcutter", "miller's daughter", "shepherd", "young tailor", "goose girl"], "place": ["dark forest", "silver lake", "high mountain", "endless marsh"],
        "creature": ["grey wolf", "talking fox", "old crow", "little dwarf", "white owl"], "gift": ["bread", "a cup of milk", "a warm blanket", "a place by the fire"],
        "treasure": ["golden key", "magic spindle", "bag of seeds", "singing bird"]}),
    "stargazing_notes": ([
        "Seeing was {quality} tonight; {object} stood high in the {dir}.",
        "Through the {scope} the rings of {planet} were sharp at low power.",
        "Logged {count} meteors in an hour, most from the {dir}.",
        "{object} showed a faint core but no detail in the {scope}.",
        "Clouds rolled in from the {dir} before I could find {planet}.",
        "The moon was {phase}, washing out the fainter stars.",
    ], {"quality": ["steady", "poor", "excellent", "shaky"], "object": ["the Andromeda galaxy", "the Orion nebula", "the Pleiades", "a globular cluster"],
        "dir": ["east", "south", "west", "zenith"], "scope": ["small refractor", "binoculars", "ten-inch reflector"], "planet": ["Saturn", "Jupiter", "Mars"],
        "count": ["four", "nine", "sixteen", "twenty-two"], "phase": ["full", "a thin crescent", "half lit", "gibbous"]}),
    "lease_clause": ([
        "The Tenant shall pay the rent of {amount} on the {day} day of each month.",
        "The Landlord shall keep the {part} in good repair at the Landlord's cost.",
        "The Tenant shall not keep {pet} at the Property without written consent.",
        "Either party may end this agreement by giving {notice} notice in writing.",
        "The deposit of {amount} shall be returned within {days} days of the end of the term.",
        "The Tenant shall allow access for inspection on {notice} notice.",
    ], {"amount": ["eight hundred pounds", "one thousand pounds", "six hundred pounds", "twelve hundred pounds"], "day": ["first", "fifth", "fifteenth", "last"],
        "part": ["roof", "boiler", "drains", "windows", "structure"], "pet": ["any animal", "a dog", "birds", "reptiles"], "notice": ["one month's", "two months'", "twenty-four hours'", "seven days'"],
        "days": ["ten", "fourteen", "thirty"]}),
    "changelog": ([
        "Fixed a crash when {action} with an empty {thing}.",
        "Added a {feature} to the {screen} screen.",
        "The {screen} screen now loads {speed} faster on large {thing}s.",
        "Removed the deprecated {feature}; use the new one instead.",
        "Improved error messages when {action} fails.",
        "Updated translations for the {screen} screen.",
    ], {"action": ["saving a file", "importing data", "renaming a folder", "syncing", "exporting a report"], "thing": ["project", "folder", "table", "list", "file"],
        "feature": ["search box", "dark theme", "keyboard shortcut", "undo button", "progress bar"], "screen": ["settings", "editor", "dashboard", "history", "login"],
        "speed": ["twice as", "much", "noticeably", "three times"]}),
    "museum_label": ([
        "This {object} was made in a {place} workshop around {year}.",
        "The {material} surface still shows the maker's {mark}.",
        "It was found during excavations near the old {site} in {year}.",
        "Objects like this {object} were used in {use}.",
        "Note the fine {material} inlay along the {edge}.",
        "Donated to the museum by a local family in {year}.",
    ], {"object": ["bowl", "brooch", "clock", "helmet", "lamp", "chest"], "place": ["river town", "coastal", "village", "city"], "year": ["1650", "1720", "1810", "1890", "1923"],
        "material": ["bronze", "walnut", "silver", "glazed clay", "ivory-coloured bone"], "mark": ["stamp", "initials", "tool marks", "thumbprint"],
        "site": ["mill", "church", "harbour", "market cross"], "use": ["daily cooking", "religious rites", "trade", "weddings"], "edge": ["rim", "lid", "base", "handle"]}),
}


def documents(seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows: list[tuple[str, str]] = []
    for domain, (frames, slots) in DOMAINS.items():
        seen: set[str] = set()
        while len(seen) < DOCS_PER_DOMAIN:
            picked = rng.sample(frames, SENTENCES_PER_DOC)
            text = " ".join(frame.format(**{k: rng.choice(v) for k, v in slots.items()}) for frame in picked)
            if text not in seen:
                seen.add(text)
                rows.append((text, domain))
    rng.shuffle(rows)
    return rows


def main() -> None:
    path = Path(__file__).resolve().parent.parent / "resources" / "datasets" / "domains.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "domain"])
        writer.writerows(documents())
    print(path)


if __name__ == "__main__":
    main()
