"""The web editor's versions page: its layout and callbacks."""
