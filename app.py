"""Interview the characters of Kobo Abe's *The Face of Another* (1964 novel, 1966 film).

``python app.py`` serves the browser app on 127.0.0.1:7860; ``python app.py --help`` lists the
commands (events, ingest, search, ...). This file stays thin: the commands live in ``core.cli``.
"""
from core.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
