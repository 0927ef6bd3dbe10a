"""The simulated world's fixed tables (names, platforms, currencies, game modes, the shop,
server regions) and the weighted choice that draws from them."""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Any

FIRST_NAMES = (
    "Rossie", "Amara", "Jonas", "Keiko", "Mateo", "Lena", "Omar", "Priya", "Sven", "Chloe",
    "Diego", "Freya", "Hiro", "Imani", "Kofi", "Lucia", "Nils", "Olga", "Ravi", "Sade",
    "Tomas", "Uma", "Viktor", "Wen", "Yara", "Zane", "Ines", "Bruno", "Carmen", "Dmitri",
)  # fmt: skip
LAST_NAMES = (
    "Hobben", "Okafor", "Lindqvist", "Tanaka", "Silva", "Novak", "Haddad", "Sharma", "Berg",
    "Dubois", "Garcia", "Jensen", "Kato", "Mensah", "Rossi", "Petrov", "Walsh", "Costa",
    "Nakamura", "Fischer", "Moreau", "Kowalski", "Ali", "Brennan", "Santos", "Yilmaz",
)  # fmt: skip
ADJECTIVES = ("Amber", "Crimson", "Silver", "Azure", "Golden", "Shadow", "Emerald", "Iron")
ANIMALS = ("Dingo", "Koala", "Falcon", "Otter", "Lynx", "Viper", "Badger", "Heron")
PLATFORMS = (("PC", 45), ("Console", 25), ("Mobile", 30))
CURRENCIES = (("USD", 45), ("EUR", 25), ("GBP", 10), ("BRL", 12), ("JPY", 8))
# Hundredths of the currency per US cent; JPY has no minor unit, so its prices are whole.
CURRENCY_RATE = {"USD": 1.0, "EUR": 0.92, "GBP": 0.79, "BRL": 5.0, "JPY": 100.0}
MODES = (("Classic", 40), ("Arcade", 30), ("Battle", 20), ("Puzzle", 10))
TIERS = (("Beginner", 50), ("Skilled", 35), ("Expert", 15))
TIER_POINTS = {"Beginner": (0, 300), "Skilled": (100, 700), "Expert": (300, 1000)}
REGIONS = {
    "us-west": 25.0,
    "us-east": 30.0,
    "eu-west": 35.0,
    "eu-central": 40.0,
    "ap-south": 90.0,
    "sa-east": 110.0,
}  # fmt: skip  (base latency, ms)
SHOP = (  # item_id, item_type, price in US cents
    ("skin_dragon", "skin", 499), ("skin_ninja", "skin", 299), ("skin_pirate", "skin", 399),
    ("weapon_axe", "weapon", 799), ("weapon_bow", "weapon", 599),
    ("spell_fireball", "spell", 199), ("spell_heal", "spell", 99),
    ("booster_xp", "booster", 149), ("booster_gold", "booster", 249),
    ("currency_pack_small", "currency_pack", 499), ("currency_pack_large", "currency_pack", 1999),
    ("currency_pack_mega", "currency_pack", 9999),
)  # fmt: skip
MAX_LEVEL = 10  # the last level: finishing it starts a new season at level 1


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    names = [n for n, _ in pairs]
    cum = list(itertools.accumulate(w for _, w in pairs))
    return names, cum


class Choice:
    """Weighted choice with precomputed cumulative weights (random.choices is slower)."""

    def __init__(self, pairs: tuple[tuple[Any, int], ...]):
        self.names, self.cum = _weighted(pairs)
        self.total = self.cum[-1]

    def __call__(self, rng: random.Random) -> Any:
        return self.names[bisect.bisect_right(self.cum, rng.random() * self.total)]
