"""YAML data files, read safely and fast.

Design choices:
- The safe loader only: a file never builds Python objects (cards are shared by strangers).
- libyaml's C implementation of it where PyYAML has one (its wheels do): the cards and the corpus
  renderings then parse about ten times faster, which was a third of a cold ``ask``. Where PyYAML
  lacks it, the pure-Python safe loader reads the same documents to the same values, only slower.

Worked example::

    >>> load_yaml("id: hero\\nworks: [novel, film]")
    {'id': 'hero', 'works': ['novel', 'film']}
"""
from __future__ import annotations

import yaml

_SAFE = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str):
    """The document in ``text``; a malformed one raises ``yaml.YAMLError`` as ``yaml.safe_load`` does."""
    return yaml.load(text, Loader=_SAFE)  # noqa: S506 - a safe loader (CSafeLoader or SafeLoader)
