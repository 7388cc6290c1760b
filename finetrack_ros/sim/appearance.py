"""What a synthetic person looks like, made of parts: shirt, trousers, head, bag, build.

Identities are meant to be told apart mostly by *parts*: some people share a shirt (colour
and pattern) and differ only in trousers, hair/hat or bag, so a whole-body colour histogram
is not enough but part-level features are. Colours are BGR uint8 triples.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

SHIRT_PATTERNS = ("plain", "stripes", "checks", "logo")
TROUSER_PATTERNS = ("plain", "side_stripe")
HEADWEAR = ("hair", "hat")
BAGS = ("none", "backpack", "shoulder")

# A palette of well-separated clothing colours (BGR); shades are jittered per person.
PALETTE = np.array([
    (40, 40, 200), (40, 160, 40), (200, 80, 30), (30, 200, 230), (180, 60, 180),
    (230, 230, 230), (30, 30, 30), (0, 120, 255), (200, 200, 60), (120, 60, 20),
    (90, 90, 90), (150, 180, 240), (60, 20, 110), (20, 90, 60),
], np.int32)
SKIN = np.array([(80, 110, 160), (110, 150, 200), (140, 180, 225), (60, 80, 120)], np.int32)
HAIR = np.array([(20, 20, 20), (30, 60, 110), (60, 140, 200), (150, 150, 150)], np.int32)
SHADE_JITTER = 25  # max per-channel grey-level jitter around a palette colour


@dataclass(frozen=True)
class Appearance:
    """The parts of one identity.

    Attributes:
        shirt: shirt base colour (BGR).
        shirt_pattern: one of ``SHIRT_PATTERNS``.
        shirt_accent: colour of the stripes, checks or logo (BGR).
        pattern_period: stripe/check period as a fraction of the person's height.
        trousers: trousers colour (BGR).
        trouser_pattern: one of ``TROUSER_PATTERNS``.
        trouser_accent: colour of the side stripe (BGR).
        skin: skin colour (BGR).
        headwear: ``hair`` or ``hat``.
        head_colour: hair or hat colour (BGR).
        bag: one of ``BAGS``.
        bag_colour: bag colour (BGR).
        shoes: shoe colour (BGR).
        height_scale: person height relative to the perspective height (about 0.9..1.1).
        width_scale: body width relative to the nominal build (about 0.85..1.15).
    """

    shirt: tuple[int, int, int]
    shirt_pattern: str
    shirt_accent: tuple[int, int, int]
    pattern_period: float
    trousers: tuple[int, int, int]
    trouser_pattern: str
    trouser_accent: tuple[int, int, int]
    skin: tuple[int, int, int]
    headwear: str
    head_colour: tuple[int, int, int]
    bag: str
    bag_colour: tuple[int, int, int]
    shoes: tuple[int, int, int]
    height_scale: float
    width_scale: float


def _colour(rng: np.random.Generator, table: np.ndarray, avoid: int = -1) -> tuple[int, ...]:
    """Pick a jittered colour from ``table``, not the entry ``avoid`` (index)."""
    choices = [i for i in range(len(table)) if i != avoid]
    base = table[rng.choice(choices)]
    shade = base + rng.integers(-SHADE_JITTER, SHADE_JITTER + 1, 3)
    return tuple(int(c) for c in np.clip(shade, 0, 255))


def random_appearance(rng: np.random.Generator) -> Appearance:
    """One identity with independently drawn parts."""
    shirt_index = int(rng.integers(len(PALETTE)))
    return Appearance(
        shirt=_colour(rng, PALETTE[shirt_index:shirt_index + 1]),
        shirt_pattern=str(rng.choice(SHIRT_PATTERNS)),
        shirt_accent=_colour(rng, PALETTE, avoid=shirt_index),
        pattern_period=float(rng.uniform(0.03, 0.07)),
        trousers=_colour(rng, PALETTE),
        trouser_pattern=str(rng.choice(TROUSER_PATTERNS, p=(0.7, 0.3))),
        trouser_accent=_colour(rng, PALETTE),
        skin=_colour(rng, SKIN),
        headwear=str(rng.choice(HEADWEAR, p=(0.65, 0.35))),
        head_colour=_colour(rng, np.concatenate([HAIR, PALETTE])),
        bag=str(rng.choice(BAGS, p=(0.4, 0.35, 0.25))),
        bag_colour=_colour(rng, PALETTE),
        shoes=_colour(rng, HAIR),
        height_scale=float(rng.uniform(0.9, 1.1)),
        width_scale=float(rng.uniform(0.85, 1.15)),
    )


def sample_appearances(
    rng: np.random.Generator, count: int, shared_shirt_fraction: float
) -> list[Appearance]:
    """``count`` identities; about ``shared_shirt_fraction`` of them copy an earlier shirt.

    A copy keeps shirt colour, pattern, accent and period, and is re-drawn until it differs
    from its twin in trousers colour *and* in headwear or bag, so parts still tell them apart.
    """
    people: list[Appearance] = []
    for index in range(count):
        person = random_appearance(rng)
        if people and rng.random() < shared_shirt_fraction:
            twin = people[int(rng.integers(len(people)))]
            person = _differing_copy(rng, twin)
        people.append(person)
    return people


def _differing_copy(rng: np.random.Generator, twin: Appearance) -> Appearance:
    """Make a new identity wearing ``twin``'s shirt but different elsewhere."""
    while True:
        other = random_appearance(rng)
        trousers_differ = int(np.abs(np.subtract(other.trousers, twin.trousers)).sum()) > 120
        rest_differs = other.headwear != twin.headwear or other.bag != twin.bag
        if trousers_differ and rest_differs:
            return replace(other, shirt=twin.shirt, shirt_pattern=twin.shirt_pattern,
                           shirt_accent=twin.shirt_accent, pattern_period=twin.pattern_period)
