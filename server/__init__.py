"""The dispatch hub. At this level the entry points (app, cli, runner, config, logs, metrics) and the typed
application context; below, one package per concept (see CONTRIBUTING.md, "The map")."""
