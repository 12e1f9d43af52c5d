"""Shangbao (上报): a Telegram bot for stability information reporting."""
