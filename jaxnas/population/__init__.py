"""Population scoring: many architectures, one compiled program (jit + lax.map / vmap, chunks)."""

from ._score import METHODS as METHODS
from ._score import ScoreTiming as ScoreTiming
from ._score import member_keys as member_keys
from ._score import score_exact as score_exact
from ._score import score_population as score_population

__all__ = ["METHODS", "ScoreTiming", "member_keys", "score_exact", "score_population"]
