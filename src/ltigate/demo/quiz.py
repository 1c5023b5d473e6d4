"""The demo app's quiz: three multiple-choice questions on linear equations, graded by counting right answers."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class Question:
    """One question; the form sends the index of the chosen answer under `key`."""

    key: str
    text: str
    choices: tuple[str, ...]
    answer: int


QUESTIONS: Final = (
    Question("q1", "Solve 2x + 3 = 11.", ("x = 3", "x = 4", "x = 7"), 1),
    Question("q2", "Which line has slope 2?", ("y = 2x − 5", "y = x + 2", "y = −2x + 1"), 0),
    Question("q3", "Solve 3(x − 1) = 12.", ("x = 3", "x = 4", "x = 5"), 2),
)
MAXIMUM: Final = len(QUESTIONS)


def grade(answers: Mapping[str, str]) -> int:
    """How many questions `answers` (form fields: question key → choice index) gets right; blanks count as wrong."""
    return sum(1 for question in QUESTIONS if answers.get(question.key) == str(question.answer))
