"""Files written so that a crash or a concurrent writer never leaves a half-written one behind: atomic
writes and staged directories (``atomic_files``), and the manifests that let a cache tell damage from a
finished build (``cache_manifest``). The lowest floor with ``errors`` and ``config``: every layer writes files."""
