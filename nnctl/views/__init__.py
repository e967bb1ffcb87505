"""Rich renderings, one module per command: functions build Rich objects and return them,
the CLI prints them (and only the CLI and these modules import Rich).

``text`` holds what several commands show alike (numbers, notes and errors, metric and
confusion tables); ``train``, ``sweep``, ``runs``, ``describe``, ``boundary``, ``inspect``,
``evaluate``, ``plot``, ``explain`` and ``gradcheck`` each render their command.
"""
