"""The languages a room can be in: those glin-profanity has a word list for.

A room's language picks the word list of the abuse check (tm/screening.py) and is the
page's `lang`, so a screen reader reads posts with the right voice."""

from __future__ import annotations

from typing import NamedTuple


class Language(NamedTuple):
    name: str  # as its speakers write it, for the room settings' menu
    english_name: str  # for the audit log ("a word on the German list")
    word_list: str  # glin-profanity's name for its list


LANGUAGES: dict[str, Language] = {
    "ar": Language("العربية", "Arabic", "arabic"),
    "cs": Language("Čeština", "Czech", "czech"),
    "da": Language("Dansk", "Danish", "danish"),
    "de": Language("Deutsch", "German", "german"),
    "en": Language("English", "English", "english"),
    "eo": Language("Esperanto", "Esperanto", "esperanto"),
    "es": Language("Español", "Spanish", "spanish"),
    "fa": Language("فارسی", "Persian", "persian"),
    "fi": Language("Suomi", "Finnish", "finnish"),
    "fr": Language("Français", "French", "french"),
    "hi": Language("हिन्दी", "Hindi", "hindi"),
    "hu": Language("Magyar", "Hungarian", "hungarian"),
    "it": Language("Italiano", "Italian", "italian"),
    "ja": Language("日本語", "Japanese", "japanese"),
    "ko": Language("한국어", "Korean", "korean"),
    "nl": Language("Nederlands", "Dutch", "dutch"),
    "no": Language("Norsk", "Norwegian", "norwegian"),
    "pl": Language("Polski", "Polish", "polish"),
    "pt": Language("Português", "Portuguese", "portuguese"),
    "ru": Language("Русский", "Russian", "russian"),
    "sv": Language("Svenska", "Swedish", "swedish"),
    "th": Language("ไทย", "Thai", "thai"),
    "tr": Language("Türkçe", "Turkish", "turkish"),
    "zh": Language("中文", "Chinese", "chinese"),
}

CHOICES = [(code, language.name) for code, language in LANGUAGES.items()]
