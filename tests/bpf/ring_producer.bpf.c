// Test producer for the ring-buffer drain (tests/test_bpf_ring.py, perf/bench_ring.py).
// On every getppid() of the process `target_tgid`, writes one record to `events`:
//   u32 seq | u32 len (the payload length, 8..8+size_mask) | byte i (i >= 8) = (seq + i) & 0xff
// Wakes the consumer only when more than `wake_bytes` are already waiting; counts the
// records the ring refused in `drops`.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#define MAX_EXTRA 128
#define NR_GETPPID 110          /* x86_64 */
#define PT_REGS_ORIG_AX 120     /* offsetof(struct pt_regs, orig_ax), x86_64 */

/* The syscall-exit raw tracepoint (tp_btf), filtered to getppid: this machine refuses the
 * trampoline program types (fentry/fexit/LSM load with EPERM), and __x64_sys_getppid has no
 * BTF entry of its own (it aliases __do_sys_getppid). */
struct pt_regs;

char LICENSE[] SEC("license") = "GPL";

const volatile __u32 target_tgid = 0;
const volatile __u32 size_mask = 127;          /* extra payload bytes: (seq * 7) & size_mask */
const volatile __u64 wake_bytes = 0;

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

__u32 seq = 0;

SEC("tp_btf/sys_exit")
int BPF_PROG(on_getppid, struct pt_regs *regs, long ret)
{
	__u8 buf[8 + MAX_EXTRA];
	__u32 s, len, zero = 0;
	__u64 flags, *d;
	int i;

	if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
		return 0;
	if (*(__u64 *)((char *)regs + PT_REGS_ORIG_AX) != NR_GETPPID)
		return 0;
	s = seq++;
	len = 8 + ((s * 7) & size_mask & (MAX_EXTRA - 1));
	*(__u32 *)&buf[0] = s;
	*(__u32 *)&buf[4] = len;
#pragma unroll
	for (i = 8; i < 8 + MAX_EXTRA; i++)
		buf[i] = (__u8)(s + i);
	flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) > wake_bytes ?
		BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, buf, len, flags) < 0) {
		d = bpf_map_lookup_elem(&drops, &zero);
		if (d)
			*d += 1;
	}
	return 0;
}
