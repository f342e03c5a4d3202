"""Adapters to outside libraries; :mod:`kg_editor.adapters.pgmpy` alone imports pgmpy."""
