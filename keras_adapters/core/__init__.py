"""Method-independent building blocks: the config base, checks and wrapper base.

Nothing here knows a method, a backbone or KerasHub; every other package of
keras-adapters builds on it.
"""
