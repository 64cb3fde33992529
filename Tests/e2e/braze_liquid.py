"""Braze's Liquid, as far as the marketer's guide uses it, on python-liquid.

Braze writes a property as `{{event_properties.${name}}}` and lets a tag hold an output
(`{% for item in {{canvas_entry_properties.${products}}} %}`); standard Liquid has neither. The
adaptation is a text rewrite before parsing, nothing else:
- inside `{% … %}`, `{{ x }}` becomes `x`;
- everywhere, `${name}` becomes `name`.
`event_properties`, `canvas_entry_properties` and `context` are bound to the event's properties
(the campaign, Canvas-entry and Canvas-context spellings of the same thing), the profile's
attributes to `custom_attribute` and to Braze's standard attribute names (`${first_name}`, …).
Filters are python-liquid's standard ones plus Braze's `money` (two places, no scaling: Braze's
documented behaviour, `145 | money` is `145.00`). An undefined name or property raises (except under `default`), so a
renamed property fails the guide's test instead of rendering empty.
"""
import re

from liquid import Environment, StrictDefaultUndefined

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TAG = re.compile(r"\{%(.*?)%\}", re.S)
_OUTPUT_IN_TAG = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.S)
# Braze's standard attribute tags and the profile attributes they read.
_STANDARD = {"first_name": "first_name", "last_name": "last_name", "email_address": "email", "phone_number": "phone",
             "city": "home_city", "country": "country"}


def adapt(source: str) -> str:
    """Braze's Liquid spelling as standard Liquid (see the module doc)."""
    source = _TAG.sub(lambda m: "{%" + _OUTPUT_IN_TAG.sub(r"\1", m.group(1)) + "%}", source)
    return _VARIABLE.sub(r"\1", source)


def money(value):
    """Braze's `money`: the number with two decimal places (Braze does not divide by 100 like Shopify)."""
    return f"{float(value):.2f}"


def environment() -> Environment:
    env = Environment(undefined=StrictDefaultUndefined)
    env.filters["money"] = money
    return env


def bindings(properties: dict, attributes: dict) -> dict:
    data = {"event_properties": properties, "canvas_entry_properties": properties, "context": properties,
            "custom_attribute": attributes}
    for tag, attribute in _STANDARD.items():
        if attribute in attributes:
            data[tag] = attributes[attribute]
    return data


def render(source: str, properties: dict, attributes: dict) -> str:
    return environment().from_string(adapt(source)).render(**bindings(properties, attributes))


def normalised(text: str) -> str:
    """Output compared line by line, without indentation or blank lines (Liquid's tags leave both)."""
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())
