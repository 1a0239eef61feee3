"""A small instruction-following task written for this course: pull a person's profile out of a sentence
as one line of JSON with a fixed schema, ``{"name": ..., "age": ..., "city": ...}``, and nothing else.

Each example is a chat: a system message with the instruction, the sentence as the user's message, and the
reference reply as the assistant's. 80 people in 10 phrasings; the 20 held-out people have names and cities
that no training example uses, so a model can only pass them by following the format, not by remembering.

Examples:
    >>> train, test = load_profile_task()
    >>> len(train), len(test)
    (60, 20)
    >>> for message in train[0]:
    ...     print(f"{message['role']:>9}: {message['content']}")
       system: Extract name, age and city as JSON.
         user: Mia is 18 and lives in Paris.
    assistant: {"name": "Mia", "age": 18, "city": "Paris"}
"""

from __future__ import annotations

import json

__all__ = ["PROFILE_INSTRUCTION", "PROFILE_KEYS", "profile_reply", "load_profile_task"]

PROFILE_INSTRUCTION = "Extract name, age and city as JSON."
PROFILE_KEYS = ("name", "age", "city")

# fmt: off
# 80 first names: the first 60 for training, the last 20 held out.
_NAMES = (
    "Mia", "Tom", "Ana", "Ken", "Lena", "Omar", "Sara", "Paul", "Nina", "Ivan", "Emma", "Luis",
    "Zoe", "Hugo", "Maya", "Leo", "Iris", "Sam", "Eva", "Noah", "Ella", "Max", "Lucy", "Adam",
    "Rosa", "Finn", "Alice", "Dan", "Ruth", "Ali", "Jade", "Ben", "Clara", "Raj", "Ada", "Tim",
    "Nora", "Yuki", "Kate", "Ravi", "Lars", "Wendy", "Grace", "Eric", "Lily", "Jon", "Mei", "Karl",
    "Amy", "Marco", "Julia", "Oscar", "Fatima", "Peter", "Hana", "Felix", "Sofia", "Owen", "Laura", "Diego",
    "Vera", "Tariq", "Helen", "Jamal", "Irene", "Boris", "Chloe", "Pablo", "Alma", "Victor", "Rita", "Igor",
    "Dora", "Bruno", "Elif", "Simon", "Tara", "Colin", "Nadia", "Henry",
)
# 40 cities: 30 for training, the last 10 held out.
_CITIES = (
    "Paris", "Berlin", "Madrid", "Tokyo", "Rome", "Cairo", "Lima", "Oslo", "Seoul", "Dublin",
    "Vienna", "Lisbon", "Prague", "Boston", "Delhi", "Sydney", "Toronto", "Athens", "Nairobi", "Chicago",
    "Lagos", "Warsaw", "Quito", "Hanoi", "Denver", "Dallas", "Milan", "Munich", "Zurich", "Helsinki",
    "Bogota", "Kyoto", "Geneva", "Havana", "Manila", "Tunis", "Perth", "Osaka", "Seville", "Porto",
)
# fmt: on
_PHRASINGS = (
    "{name} is {age} and lives in {city}.",
    "I'm {name}, {age} years old, from {city}.",
    "{name} ({age}) moved to {city} last year.",
    "Living in {city}, {name} just turned {age}.",
    "Meet {name}: {age}, based in {city}.",
    "{name}, aged {age}, works in {city}.",
    "At {age}, {name} still calls {city} home.",
    "My neighbour {name} is {age}; we both live in {city}.",
    "{city} is where {name}, {age}, grew up.",
    "Name {name}, age {age}, city {city}.",
)


def profile_reply(name: str, age: int, city: str) -> str:
    """The reference reply: one line of JSON with the keys of `PROFILE_KEYS`, in that order."""
    return json.dumps({"name": name, "age": age, "city": city})


def load_profile_task() -> tuple[list[list[dict[str, str]]], list[list[dict[str, str]]]]:
    """The profile-extraction task as chats (system instruction, user sentence, assistant reply).

    Returns:
        ``(train, test)``: 60 and 20 chats, each a list of three ``{"role", "content"}`` messages. The 20
            test people use the last 20 names and the last 10 cities, none of which appears in training.
    """
    chats = []
    for i, name in enumerate(_NAMES):
        city = _CITIES[i // 2] if i >= 60 else _CITIES[i % 30]  # test people: cities 30-39 only
        age = 18 + (i * 37) % 62  # 18 to 79, spread out
        sentence = _PHRASINGS[i % len(_PHRASINGS)].format(name=name, age=age, city=city)
        chats.append(
            [
                {"role": "system", "content": PROFILE_INSTRUCTION},
                {"role": "user", "content": sentence},
                {"role": "assistant", "content": profile_reply(name, age, city)},
            ]
        )
    return chats[:60], chats[60:]
