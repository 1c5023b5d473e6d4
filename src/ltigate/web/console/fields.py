"""How the console describes a form field: its label, what it means, and the name each LMS gives it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldHelp:
    name: str
    label: str
    summary: str
    lms: tuple[tuple[str, str], ...] = ()  # (LMS, what it calls this field / what to enter there)
    placeholder: str = ""
    kind: str = "text"  # text | url | number | decimal | textarea | checkbox
    required: bool = False
