"""Run ids and generated run names."""

from __future__ import annotations

import secrets
import string

from kiseki.errors import UsageError

_ID_ALPHABET = string.ascii_lowercase + string.digits
_FORBIDDEN_ID_CHARACTERS = set("/\\#?%:")
MAX_ID_LENGTH = 64

ADJECTIVES = (
    "amber", "ancient", "autumn", "bold", "brisk", "calm", "celestial", "cosmic", "crimson",
    "dainty", "dark", "dashing", "dauntless", "deep", "divine", "dry", "dulcet", "eager",
    "earnest", "easy", "efficient", "electric", "elegant", "ethereal", "fallen", "fearless",
    "fine", "fiery", "floral", "fresh", "frosty", "gentle", "giddy", "glad", "glamorous",
    "glowing", "golden", "graceful", "hardy", "hearty", "helpful", "hidden", "honest", "icy",
    "jolly", "kind", "laced", "lemon", "light", "lilac", "lively", "lucky", "lunar", "misty",
    "morning", "noble", "olive", "pious", "playful", "polar", "proud", "quiet", "rare",
    "restful", "rich", "robust", "rosy", "royal", "rural", "sage", "scarlet", "serene",
    "sharp", "silver", "smooth", "snowy", "solar", "sparkling", "spring", "stellar",
    "still", "stilted", "sunny", "swift", "twilight", "vague", "vibrant", "vivid", "wandering",
    "warm", "wild", "winter", "wise", "worthy", "young", "zesty",
)  # fmt: skip
NOUNS = (
    "aurora", "bird", "blaze", "breeze", "brook", "bush", "butterfly", "canyon", "cherry",
    "cloud", "comet", "cosmos", "dawn", "deluge", "dew", "disco", "dream", "dust", "eon",
    "feather", "field", "fire", "firefly", "flower", "fog", "forest", "frog", "frost",
    "galaxy", "glade", "glitter", "grass", "haze", "hill", "lake", "leaf", "meadow", "moon",
    "morning", "mountain", "night", "oath", "ocean", "paper", "pine", "planet", "plasma",
    "pond", "puddle", "rain", "resonance", "river", "salad", "sea", "shadow", "shape",
    "silence", "sky", "smoke", "snow", "snowflake", "sound", "spaceship", "sun", "sunset",
    "surf", "terrain", "thunder", "tree", "universe", "violet", "voice", "water", "wave",
    "wildflower", "wind", "wood",
)  # fmt: skip


def generate_run_id() -> str:
    """A random run id: 8 characters from ``[a-z0-9]``."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def validate_run_id(run_id: str) -> str:
    """Return ``run_id`` when it can be used in paths and URLs, else raise UsageError."""
    if not isinstance(run_id, str) or not run_id:
        raise UsageError(f"Run id {run_id!r} is empty or not a string: pass a short string.")
    bad = sorted(_FORBIDDEN_ID_CHARACTERS.intersection(run_id))
    if bad:
        raise UsageError(
            f"Run id {run_id!r} contains {' '.join(bad)}, which cannot appear in run paths "
            "and URLs: use letters, digits, '-' and '_'."
        )
    if len(run_id) > MAX_ID_LENGTH or any(c.isspace() for c in run_id):
        raise UsageError(
            f"Run id {run_id!r} must be at most {MAX_ID_LENGTH} characters without spaces."
        )
    return run_id


def generate_run_name(number: int) -> str:
    """A friendly run name such as ``sparkling-glade-12``; ``number`` counts runs in the project."""
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(NOUNS)}-{number}"
