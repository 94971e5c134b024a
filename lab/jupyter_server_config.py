# Jupyter Server settings for `make lab` (lab/start.sh puts this folder first on JUPYTER_CONFIG_PATH).
c = get_config()  # noqa: F821 (defined by Jupyter when it loads this file)

# Containers and CI run as root (the Makefile's SUDO is empty there); Jupyter refuses root unless told.
# The server still asks for its token (and listens on localhost unless --ip says otherwise).
c.ServerApp.allow_root = True

# The file browser opens on the chapters; the root stays the repository (lib/, tests/ are one click up).
c.ContentsManager.preferred_dir = "chapters"

# Saving a chapter from JupyterLab rewrites its .md through jupytext. Its default metadata filter keeps
# only `jupytext` and `kernelspec` in the YAML header: it would drop verdicts.md's `mystnb:
# {execution_mode: force}` (the book would then serve a cached conclusion) and stamp every chapter
# with `jupytext_version`. Keep the first, leave out the second. (A jupytext.toml found next to the
# chapters or in ~/.config/jupytext takes precedence over this.)
c.JupytextConfiguration.notebook_metadata_filter = "mystnb,-jupytext.text_representation.jupytext_version"
