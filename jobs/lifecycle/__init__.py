"""A model's life after its first version: training as a job (``training``), realized metrics from
matured labels (``evaluation``), the promotion gate (``gate``), and which version scores a day
(``model_choice``: the alias now, or its target on the scored day; never a version trained on it)."""
