"""Renderers: build deliverables from a run folder's results (never from notebook internals)."""
