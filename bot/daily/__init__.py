"""The daily cycle (GitHub issue 4): every unit's daily report (日报 / 零报告), the 16:00
reminder, the 17:00 deadline with its summary (当日汇总) and missed-report notices (漏报), and
the weekly summary with quotas, each sent exactly once.

Modules, read in this order:

* `schedule` — which days are reporting days (working-days calendar, sensitive periods) and
  when each run is due, in the bot's time zone;
* `store` — filing a daily report (revisions, late flag) and what each unit filed on a day;
* `overdue` — the hook through which case follow-ups that are overdue reach the summary;
* `summary` — loading a day or a week in a fixed number of queries, and rendering the texts;
* `runs` — what each scheduled run does: reminders, summaries, notices, the weekly summary;
* `scheduler` — claiming runs in `job_runs` and the JobQueue timer that looks for due runs.
"""
