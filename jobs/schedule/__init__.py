"""When days run: cron maths that take ``now`` (``cron``), day words (``days``), crontab text
(``crontab``), the daemon (``daemon``), backfills (``backfill``) and retries (``retry``)."""
