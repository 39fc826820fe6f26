"""The trader stage (``stage.py``) and its private parts: ``risk/``, ``execution/``, ``portfolio/``."""
