"""``python -m jobs`` is ``batchscore``; ``console`` is the installed ``batchscore`` command."""

from __future__ import annotations

import atexit
import os
import sys
import threading
from typing import NoReturn


def console() -> NoReturn:
    from jobs.cli import main

    code = main()
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        sys.exit(code)  # a thread still working: the interpreter waits for it, as it should
    # Nothing left running: end here, without the interpreter's teardown. With pandas,
    # scikit-learn and scipy loaded it takes about 0.4 s (single-threaded, every run), and
    # frees memory the system takes back anyway. Exit handlers still run (logging's flush,
    # multiprocessing's), and the standard streams are flushed.
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader went away (``| head``): nothing left to say, to no one
            pass
        except OSError:  # a full disk or the like: CPython's own exit reports 120
            code = code or 120
    os._exit(code)


if __name__ == "__main__":
    console()
