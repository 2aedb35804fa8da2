// A program the verifier must reject: a hash-map value used without its NULL check.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} counts SEC(".maps");

SEC("tp_btf/sys_exit")
int BPF_PROG(bad_deref)
{
	__u32 zero = 0;
	__u64 *c = bpf_map_lookup_elem(&counts, &zero);

	*c += 1;
	return 0;
}
