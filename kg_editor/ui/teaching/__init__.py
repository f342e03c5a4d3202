"""The web editor's teaching page: its layout and callbacks."""
