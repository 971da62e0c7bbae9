"""Where a sweep's packs train: ``local`` (this process and single-threaded worker processes) or ``ray``."""
