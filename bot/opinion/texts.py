"""How the public-opinion steps and the evaluation read: button labels, the notes posted
under the cards, the /case sections. HTML; what people typed is escaped here."""

from __future__ import annotations

from bot.cases import views
from bot.i18n import N_, _, format_datetime, format_number
from bot.opinion.steps import FIGURES, Step
from bot.textutil import esc
from storage.models import Evaluation, OpinionCase, OpinionEntry

BUTTONS = {
    Step.MONITOR: N_("📡 Monitor"), Step.CONSULT: N_("💬 Consultation (会商)"),
    Step.DRAFT: N_("📄 Draft statement (通稿)"), Step.APPROVE: N_("✅ Approve statement"),
    Step.REPLY: N_("📢 Public reply"), Step.SUBSIDE: N_("🕊 Subsided (已平息)"),
}
QUESTIONS = {
    Step.MONITOR: N_("Monitoring of case {reference} ({title}): what is new? Send the new links and what people "
                     "say, as one message."),
    Step.CONSULT: N_("Consultation (会商) on case {reference} ({title}): send your view on the measures as one "
                     "message. It is posted under the card."),
    Step.DRAFT: N_("Unified statement (通稿) for case {reference} ({title}): send the draft's text as one message. "
                   "A leader of the reporting unit or above approves it."),
    Step.REPLY: N_("Public reply to case {reference} ({title}): send the link of the reply as published, or its "
                   "text, as one message."),
    Step.SUBSIDE: N_("Case {reference} ({title}) has subsided (已平息)? Send a short note on how it ended; the "
                     "case closes with it."),
}
FIGURE_NAMES = {"views": N_("views"), "shares": N_("shares"), "comments": N_("comments")}


def figures_text(figures: dict) -> str:
    """"views 12,000 · shares 300" in the reader's language; empty without figures."""
    return " · ".join(_("{name} {value}").format(name=_(FIGURE_NAMES[key]), value=format_number(figures[key]))
                      for key in FIGURES if key in figures)


def entry_note(kind: str, actor: str, text: str, links: list[str], figures: dict) -> str:
    if kind == "consult":
        return _("💬 <b>Consultation (会商)</b> — {actor}：\n{text}").format(actor=esc(actor), text=esc(text))
    lines = [_("📡 <b>Monitoring</b> — {actor}：\n{text}").format(actor=esc(actor), text=esc(text))]
    if figures:
        lines.append(_("Spread: {figures}").format(figures=figures_text(figures)))
    if links:
        lines.append(_("New links: {links}").format(links=esc(" ".join(links))))
    return "\n".join(lines)


def draft_note(actor: str, text: str) -> str:
    return _("📄 <b>Unified statement (通稿), draft by {actor}</b>, waiting for approval:\n{text}").format(
        actor=esc(actor), text=esc(text))


def approved_note(actor: str, author: str, text: str) -> str:
    return _("✅ <b>Unified statement (通稿) approved by {actor}</b> (drafted by {author}):\n{text}").format(
        actor=esc(actor), author=esc(author), text=esc(text))


def reply_note(actor: str, text: str, minutes: int) -> str:
    return _("📢 <b>Public reply</b> recorded by {actor}, {after} after the report:\n{text}").format(
        actor=esc(actor), after=views.duration(minutes), text=esc(text))


def opinion_section(case: OpinionCase | None, entries: list[OpinionEntry]) -> list[str]:
    """The public-opinion part of /case: the statement, the reply, monitoring and views."""
    if case is None:
        return []
    lines = ["", _("<b>Public opinion (舆情处置)</b>")]
    if case.statement:
        state = (_("approved by {name}").format(name=esc(case.approved_by)) if case.approved_at
                 else _("draft, waiting for approval"))
        lines.append(_("Unified statement (通稿), {state}：{text}").format(state=state, text=esc(case.statement)))
    if case.replied_at:
        lines.append(_("Public reply ({time})：{text}").format(time=format_datetime(case.replied_at, "short"),
                                                              text=esc(case.reply or "")))
    if case.subsided_at:
        lines.append(_("Subsided (已平息): {time}, {name}").format(
            time=format_datetime(case.subsided_at, "short"), name=esc(case.subsided_by)))
    for entry in entries:
        what = figures_text(entry.figures or {})
        lines.append("• {time} {who}：{text}{figures}".format(
            time=format_datetime(entry.at, "short"), who=esc(entry.author_name), text=esc(entry.text),
            figures=f" ({what})" if what else ""))
    return lines


EVALUATION_QUESTIONS = {
    "happened": N_("1/3 What happened, and how was it handled?"),
    "worked": N_("2/3 What worked well?"),
    "change": N_("3/3 What should change next time?"),
}
EVALUATION_LABELS = {"happened": N_("What happened"), "worked": N_("What worked"), "change": N_("What to change")}


def evaluation_section(evaluation: Evaluation | None) -> list[str]:
    """The evaluation in /case: filed (with its answers), or due by when."""
    if evaluation is None:
        return []
    lines = ["", _("<b>Evaluation (总结评估)</b>")]
    if evaluation.filed_at is None:
        lines.append(_("Due by {time}; not filed yet.").format(time=format_datetime(evaluation.due_at, "short")))
        return lines
    lines.append(_("Filed by {name} on {time}").format(name=esc(evaluation.filed_by),
                                                      time=format_datetime(evaluation.filed_at, "short")))
    return lines + [_("{label}：{text}").format(label=_(EVALUATION_LABELS[key]), text=esc(evaluation.answers.get(key, "")))
                    for key in EVALUATION_QUESTIONS]
