"""The Telegram side: the owner's alerts, the managers' tasks and commands (aiogram 3)."""
