"""Event sources (scap files, later live eBPF) and the state engine they feed."""
