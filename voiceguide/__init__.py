"""voiceguide: turn exercise routines written in YAML into narrated, exactly timed MP3s."""

__version__ = "0.1.0"
