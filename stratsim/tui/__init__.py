"""The stratsim terminal UI (Textual). Start it with ``stratsim`` or ``stratsim tui``.

Modules: :mod:`.app` (the App and its options), :mod:`.screens` (main screen and
dialogs), :mod:`.widgets` (panes), :mod:`.edit` (keyboard editing of a decision),
:mod:`.training_job` (one training run off the UI thread), :mod:`.branches`,
:mod:`.messages`. Nothing here imports torch at import time.
"""
