"""Reporting tasks (填报任务): cadences, periods per unit, filing, reminders, misses, templates."""
