"""The fixed choices of a report (categories, platforms, …): stored values and their labels.

Values are what the database, callback data and rules files use; labels are msgids,
translated where they are shown.
"""

from __future__ import annotations

from bot.i18n import N_, _
from storage.models import Category

CATEGORIES: dict[str, str] = {
    Category.PETITION.value: N_("Petition"),
    Category.COLLECTIVE_PETITION.value: N_("Collective or skip-level petition"),
    Category.DISPUTE.value: N_("Dispute"),
    Category.PUBLIC_OPINION.value: N_("Online public opinion"),
    Category.WORKPLACE_SAFETY.value: N_("Workplace safety"),
    Category.NATURAL_DISASTER.value: N_("Natural disaster"),
    Category.PUBLIC_HEALTH.value: N_("Public health"),
    Category.OTHER.value: N_("Other"),
}
CATEGORY_EMOJI = {
    "petition": "📨", "collective_petition": "👥", "dispute": "⚖️", "public_opinion": "🌐",
    "workplace_safety": "🦺", "natural_disaster": "🌊", "public_health": "🏥", "other": "📌",
}

PETITION_CATEGORIES = frozenset({Category.PETITION.value, Category.COLLECTIVE_PETITION.value})
OPINION_CATEGORIES = frozenset({Category.PUBLIC_OPINION.value})

# How far petitioners went (信访层级), nearest first.
REACHES: dict[str, str] = {
    "township": N_("Township or street"),
    "county": N_("County or district"),
    "city": N_("City"),
    "province": N_("Province"),
    "beijing": N_("Beijing"),
}

PLATFORMS: dict[str, str] = {
    "weibo": N_("Weibo"),
    "wechat": N_("WeChat"),
    "douyin": N_("Douyin"),
    "kuaishou": N_("Kuaishou"),
    "forum": N_("Forum"),
    "news": N_("News site"),
    "other": N_("Other platform"),
}

# The reporter's own judgement of an online public-opinion item.
OPINION_CLASSES: dict[str, str] = {
    "especially_major": N_("Especially major"),
    "major": N_("Major or relatively major"),
    "general": N_("General"),
    "minor": N_("Minor"),
}


def label(labels: dict[str, str], value: str) -> str:
    """The translated label of a stored value (the value itself if it is unknown)."""
    return _(labels[value]) if value in labels else value
