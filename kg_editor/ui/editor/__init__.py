"""The web editor's editor page: its layout and callbacks."""
