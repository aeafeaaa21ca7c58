"""Data quality and drift of a run: per-chunk figures (``column``), the run's monitor and its
pure verdict (``monitor``), PSI (``psi``), and the bisection that isolates rows a pipeline
cannot score (``bisect``)."""
