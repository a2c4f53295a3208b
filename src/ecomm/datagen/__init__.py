"""The simulated shop: raw CSV batches per business date plus planted ground truth (docs/architecture.md#ground-truth).

generate_history(GeneratorConfig(...), out)   # OUT/<date>/*.csv, OUT/truth/, OUT/ground_truth.json, OUT/_state/
generate_next_day(out)                         # one more business date, continuing OUT/_state
"""

from ecomm.datagen.api import GenerationSummary, generate_history, generate_next_day
from ecomm.datagen.config import GeneratorConfig, GeneratorError

__all__ = ["GenerationSummary", "GeneratorConfig", "GeneratorError", "generate_history", "generate_next_day"]
