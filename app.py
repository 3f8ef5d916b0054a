"""Interview the characters of Kobo Abe's *The Face of Another* (1964 novel, 1966 film).

``python app.py`` serves the browser app on 127.0.0.1:7860; ``python app.py --help`` lists the
commands (events, ingest, search, ask, chat, characters, models, cards, ...). This file stays thin:
the commands live in ``cli/``, the UI (``respond``, ``build_app``) in ``ui.web``.
"""
from cli import main
from ui.web import build_app, respond  # noqa: F401  (the app's public entry points)

if __name__ == "__main__":
    raise SystemExit(main())
