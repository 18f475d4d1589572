"""Template filters for :mod:`veritas.formats`: ``{{ total|number }}``, ``{{ rate|percent }}``,
``{{ severity|number:2 }}``, ``{{ cooloff|minutes }}``."""

from django import template

from veritas import formats

register = template.Library()
register.filter("number", formats.number)
register.filter("percent", formats.percent)
register.filter("minutes", formats.minutes)
