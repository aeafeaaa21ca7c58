"""Online scoring: ``batchscore serve`` (an ASGI app), ``parity``, and scores by id in Redis.

    records.py   JSON records -> an Arrow batch with the model's feature schema (422 errors)
    online.py    one loaded version of a job's pipeline; records -> scores via score_chunk
    models.py    the versions served, reloaded when a registry alias moves (atomic swap)
    outputs.py   a job's committed output read back: one id's score, or a day's rows
    batcher.py   requests that arrive together, scored in one call
    publish.py   a committed day -> Redis under a run's namespace, one atomic pointer switch
    parity.py    replay a day's source rows online and compare with the committed scores
    metrics.py   Prometheus text: requests, errors, latency, model version per job
    app.py       the FastAPI app and its HTTP errors
    status.py    the status page at /
"""
