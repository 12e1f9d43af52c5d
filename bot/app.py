"""The PTB Application: built from settings, with storage, languages and handlers wired in."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from telegram import (
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeDefault,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    ContextTypes,
    Defaults,
    TypeHandler,
)
from telegram.request import HTTPXRequest

import handlers
from bot import flood, i18n, metrics
from bot.cases.deadlines import overdue_for_summary
from bot.config import Settings
from bot.context import Context
from bot.daily.overdue import register_overdue_provider
from bot.delivery.limiter import PriorityRateLimiter
from bot.delivery.sender import start_sender, stop_sender
from bot.protect import ProtectingBot
from bot.reporting.rules import activate, load_rules
from bot.runtime import (
    ChatOrderedProcessor,
    prepare_update,
    request_redelivery,
    request_rerun,
)
from handlers import (
    adoption,
    case,
    common,
    daily,
    dispute,
    duty,
    ledger,
    marks,
    opinion,
    report,
    sensitive,
    tasks,
)
from storage.db import Database
from storage.updates import AlreadyHandled

log = logging.getLogger(__name__)

# Background services (the outbox sender, the scheduler's jobs, …) register a start and a
# stop coroutine here; both run in the polling and the webhook mode alike.
Hook = Callable[[Application], Awaitable[None]]
STARTUP_HOOKS: list[Hook] = []
SHUTDOWN_HOOKS: list[Hook] = []
STARTUP_HOOKS.append(start_sender)
STARTUP_HOOKS.append(metrics.instrument)  # counts the sender's deliveries and 429s
SHUTDOWN_HOOKS.append(stop_sender)

# Telegram's own language codes for setMyCommands; zh_Hant readers share "zh" with
# zh_Hans because Telegram's code is two letters; the default covers everyone else.
COMMAND_LANGUAGES = (("", None), ("zh", "zh_Hans"), ("en", "en"))


def build_application(settings: Settings, db: Database | None = None) -> Application:
    """The whole bot, ready to initialize; `db` is shared when tests or the CLI pass one."""
    i18n.configure(settings.default_locale, settings.tz)
    base = settings.telegram_api_base_url
    bot = ProtectingBot(
        settings.token(), base_url=f"{base}/bot", base_file_url=f"{base}/file/bot",
        defaults=Defaults(tzinfo=settings.tz, parse_mode=ParseMode.HTML),
        # Many requests at once (the pool measured in BENCHMARKS.md), one long poll.
        request=HTTPXRequest(connection_pool_size=settings.telegram_pool_size),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
        rate_limiter=PriorityRateLimiter.from_settings(settings), protect=settings.protect_content)
    processor = ChatOrderedProcessor(settings.concurrent_updates)
    application = (
        ApplicationBuilder()
        .bot(bot)
        .context_types(ContextTypes(context=Context))
        .concurrent_updates(processor)
        .post_init(on_startup)
        .post_stop(on_stop)
        .post_shutdown(on_shutdown)
        .build()
    )
    processor.application = application
    application.bot_data["settings"] = settings
    application.bot_data["db"] = db or Database(settings.database_url)
    # Before everything else (group -200): drop a flooding user's updates without a query.
    flood.install(application, settings.flood_rate_per_minute, settings.flood_burst)
    # Runs before every flow: it loads the member, their step and their language, and (polling
    # mode) skips an update a process that died had handled; webhook mode claims in the endpoint.
    application.add_handler(TypeHandler(Update, prepare_update), group=-100)
    wire(settings)
    handlers.register_all(application)
    application.add_error_handler(on_error)
    return application


def wire(settings: Settings) -> None:
    """What the flows share, registered in one visible place: the rules that grade and route
    reports, the overdue cases of the 17:00 summary, and the sections of /help in their order."""
    activate(load_rules(settings.rules_file))
    register_overdue_provider(overdue_for_summary)
    common.register_help([*report.HELP, *common.HELP, *case.HELP, *marks.HELP, *opinion.HELP, *dispute.HELP,
                          *adoption.HELP, *daily.HELP, *duty.HELP, *ledger.HELP, *sensitive.HELP, *tasks.HELP])


async def on_startup(application: Application) -> None:
    await register_commands(application)
    for hook in STARTUP_HOOKS:
        await hook(application)


async def on_stop(application: Application) -> None:
    """Stop the services while the bot can still send (the sender finishes its message)."""
    if application.bot_data.get("services_stopped"):
        return
    application.bot_data["services_stopped"] = True
    for hook in reversed(SHUTDOWN_HOOKS):
        try:
            await hook(application)
        except Exception:  # one failing service must not keep the others running
            log.exception("shutdown hook %s failed", hook)


async def on_shutdown(application: Application) -> None:
    await on_stop(application)
    await application.bot_data["db"].dispose()


async def register_commands(application: Application) -> None:
    """Command menus per language and per scope (private chats, groups)."""
    default = application.bot_data["settings"].default_locale
    for code, locale in COMMAND_LANGUAGES:
        with i18n.use_locale(locale or default):
            for scope, in_group in ((BotCommandScopeAllPrivateChats(), False),
                                    (BotCommandScopeAllGroupChats(), True)):
                commands = [BotCommand(c.name, i18n.gettext(c.description))
                            for c in handlers.all_commands() if (c.group if in_group else c.private)]
                await application.bot.set_my_commands(commands, scope=scope, language_code=code or None)
            if not code:
                await application.bot.set_my_commands(
                    [BotCommand("start", i18n.gettext("Start")), BotCommand("help", i18n.gettext("Help"))],
                    scope=BotCommandScopeDefault(),
                )


async def on_error(update: object, context: Context) -> None:
    """Log it; tell the person in private that nothing they typed was lost."""
    if isinstance(context.error, AlreadyHandled):
        log.info("update was handled before a restart; its repeat was rolled back")
        raise ApplicationHandlerStop
    if request_rerun(context.error):
        raise ApplicationHandlerStop  # the processor runs the update again from the start
    if request_redelivery(context.error):
        log.warning("database connection lost while handling an update; asking Telegram to redeliver it")
        raise ApplicationHandlerStop  # the later groups would run without what this one failed to do
    log.error("error while handling an update", exc_info=context.error)
    metrics.HANDLER_ERRORS.inc()
    if not isinstance(update, Update) or update.effective_chat is None:
        return
    if update.effective_chat.type != "private":
        return
    try:
        await context.bot.send_message(
            update.effective_chat.id,
            i18n.gettext("Sorry, something went wrong on our side. What you entered is saved; please try again in a moment."),
        )
    except TelegramError:
        log.warning("could not tell chat %s about the error", update.effective_chat.id)


async def start_polling(application: Application) -> None:
    """Start the way run_polling does, for callers that own the event loop (tests, replicas)."""
    await application.initialize()
    await on_startup(application)
    await application.start()
    await application.updater.start_polling(poll_interval=0.0, timeout=10, drop_pending_updates=False)


async def stop_polling(application: Application) -> None:
    if application.updater.running:
        await application.updater.stop()
    if application.running:
        await application.stop()
    await on_stop(application)
    await application.shutdown()
    await on_shutdown(application)
