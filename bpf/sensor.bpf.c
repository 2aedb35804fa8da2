// SPDX-License-Identifier: GPL-2.0
/* The sensor's probes: one event per syscall, at exit (fexit on the syscall's
 * __x64_sys_ function, so that syscalls nobody captures cost nothing), plus the
 * scheduler's fork and exit tracepoints.  See sensor_abi.h for the record. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "sensor_abi.h"
#include "event_codes.h"
#include "maps.h"
#include "builder.h"
#include "flags.h"
#include "files.h"
#include "task.h"
#include "progs_proc.h"
#include "progs_file.h"
#include "progs_net.h"

char LICENSE[] SEC("license") = "GPL";
