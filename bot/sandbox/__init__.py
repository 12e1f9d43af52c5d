"""The sandbox: the real bot against a local Bot API stand-in, with a sample organisation and a
web page showing its chats side by side (`python -m bot sandbox`, or `make run` without a token).

emulator/ is the Bot API stand-in (shared with the tests), clock.py the movable clock,
sample_org.py the sample organisation, world.py the running sandbox, views.py what the page
shows of each message, and web.py the page's server.
"""
