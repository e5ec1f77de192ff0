"""How much video one ``maskvat generate`` request may cover (seconds). Kept apart from the
pipeline so that the command line can state them without importing torch."""

# Shorter spans are refused: the lab model's semantic encoder reads 8 frames a second, so
# under 0.125 s it gets no frame at all; 0.25 s gives it two.
MIN_SECONDS = 0.25
MAX_SECONDS = 600.0  # longer videos are generated in parts (--start/--duration)
