"""Events: the batch layout, the event-type table, flag tables and the field registry.

    batch.py       columns of Batch / Procs / Containers (the source of truth)
    ppm_table.py   the driver's event layouts and syscall codes, as data
    evttypes.py    our event types and their parameters (derived from ppm_table)
    flags.py       flag / enum tables: value <-> text
    flagtest.py    text comparisons on flags turned into numeric tests
    fields.py      Field, the registry (lookup, all_fields, describe_fields)
    fields_*.py    one module per field class, each a declarative table + accessors
    evtargs.py     evt.arg.* / evt.rawarg.*: parameters as fields
    accessors.py   small helpers shared by accessors (numba and plain Python)
    builder.py     build batches by hand for tests and benchmarks
"""
