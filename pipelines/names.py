"""The registry's words that other parts name too: the default alias and the runtimes a
version can be scored with. Plain constants, importing nothing, so that a caller that only
needs a word (the CLI's choices, the job file's defaults) does not load the registry and,
with it, pandas and joblib."""

from __future__ import annotations

DEFAULT_ALIAS = "production"  # the alias a job scores with unless it names another

SKLEARN, TREELITE = "sklearn", "treelite"  # what scores a version's final estimator
RUNTIMES = (SKLEARN, TREELITE)
