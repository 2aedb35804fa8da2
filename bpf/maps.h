/* Maps and settings of the probes (names are part of the loader's contract). */
#ifndef SENSOR_MAPS_H
#define SENSOR_MAPS_H

const volatile struct sensor_settings settings = {0, 1 << 20};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 24);            /* the loader sets the real size */
} events SEC(".maps");

/* Records the ring refused, by event code (user space sums the CPUs). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, SENSOR_MAX_CODES);
	__type(key, u32);
	__type(value, u64);
} drops SEC(".maps");

/* Thread groups whose syscalls are not captured: the sensor's own.  An array
 * of small sets indexed by the tgid's low bits: every probe checks it, and an
 * array lookup is inlined where a hash lookup is a helper call. */
struct excluded_set {
	u32 tgid[SENSOR_EXCLUDED_WAYS];
};
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SENSOR_EXCLUDED_SETS);
	__type(key, u32);
	__type(value, struct excluded_set);
} excluded SEC(".maps");

/* One record is built here, then copied into the ring in one piece: the ring
 * can only reserve sizes known at load time.  Twice the record size so that
 * any masked offset plus one bounded write stays inside (the verifier's view). */
struct scratch {
	u8 buf[2 * SENSOR_MAX_EVENT];
};
/* One per CPU, indexed by CPU number: a per-CPU array's values are limited
 * to 32 KiB.  The loader sets max_entries to the number of possible CPUs. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SENSOR_DEFAULT_CPUS);
	__type(key, u32);
	__type(value, struct scratch);
} scratch_map SEC(".maps");

/* Arguments read at syscall entry, for the exit to use: user memory can change
 * in between (another thread rewriting a path), the values read at entry are
 * the ones the kernel acted on. */
struct stash {
	u64 args[6];
	u32 len[SENSOR_STASH_STRS];
	u32 id;                                  /* which syscall filled it (its exit code) */
	char str[SENSOR_STASH_STRS][SENSOR_MAX_STR];
};
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct stash);
} stash_map SEC(".maps");

#endif
