"""The ops CLI: keys, security, config, dependency and readiness checks.

Standard library and PyYAML only, so that Copier's post-generation hook, CI and a developer
all run the same code before (or without) installing the service's dependencies. The service
itself imports :mod:`.keyrules` and :mod:`.layers` from here, so a rule is written once.
"""
