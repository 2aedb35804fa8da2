/* Building one event record (a .scap event block, see sensor_abi.h) in the
 * per-CPU scratch buffer, then copying it into the ring in one piece.
 *
 *   struct ev e;
 *   if (!ev_begin(&e, PPME_X, nparams)) return 0;
 *   ev_s64(&e, ret); ev_user_str(&e, path); ...     exactly nparams pushes
 *   ev_submit(&e);
 *
 * Offsets are masked before every write so that the verifier can bound them;
 * a record never grows past SENSOR_MAX_EVENT (long values are cut). */
#ifndef SENSOR_BUILDER_H
#define SENSOR_BUILDER_H

#define OFF_MASK        (SENSOR_MAX_EVENT - 1)
#define SIZE_MASK       (2 * SENSOR_MAX_EVENT - 1)
#define EV_MARGIN       512     /* room kept for fixed-size parameters and the trailer */
#define CODE_BAD_BUILD  (SENSOR_MAX_CODES - 1)  /* drops slot: a probe pushed a wrong count */

struct ev {
	u8 *buf;
	u32 pos;        /* where the next parameter's bytes go */
	u32 lens;       /* where the next parameter's length goes */
	u32 nparams;
	u32 code;
};

static __always_inline bool skip_current(void)
{
	u32 tgid = bpf_get_current_pid_tgid() >> 32;
	u32 key = tgid & (SENSOR_EXCLUDED_SETS - 1);
	struct excluded_set *set = bpf_map_lookup_elem(&excluded, &key);
	if (!set)
		return false;
	for (int i = 0; i < SENSOR_EXCLUDED_WAYS; i++)
		if (set->tgid[i] == tgid)
			return true;
	return false;
}

static __always_inline void count_drop(u32 code)
{
	u64 *n = bpf_map_lookup_elem(&drops, &code);
	if (n)
		*n += 1;
}

static __always_inline bool ev_begin(struct ev *e, u32 code, u32 nparams)
{
	u32 cpu = bpf_get_smp_processor_id();
	struct scratch *s = bpf_map_lookup_elem(&scratch_map, &cpu);
	if (!s) {
		count_drop(code);
		return false;
	}
	e->buf = s->buf;
	e->code = code;
	e->nparams = nparams;
	e->lens = SENSOR_OFF_LENS;
	e->pos = SENSOR_OFF_LENS + 2 * nparams;
	*(u32 *)&s->buf[0] = SENSOR_BLOCK_TYPE;
	*(u16 *)&s->buf[SENSOR_OFF_CPU] = cpu;
	*(u64 *)&s->buf[SENSOR_OFF_TS] = settings.boot_to_epoch_ns + bpf_ktime_get_boot_ns();
	*(u64 *)&s->buf[SENSOR_OFF_TID] = (u32)bpf_get_current_pid_tgid();
	*(u16 *)&s->buf[SENSOR_OFF_CODE] = code;
	*(u32 *)&s->buf[SENSOR_OFF_NPARAMS] = nparams;
	return true;
}

/* The record's thread, when it is not the current one (a new child). */
static __always_inline void ev_set_tid(struct ev *e, u64 tid)
{
	*(u64 *)&e->buf[SENSOR_OFF_TID] = tid;
}

static __always_inline void ev_len(struct ev *e, u32 len)
{
	*(u16 *)&e->buf[e->lens & OFF_MASK] = len;
	e->lens += 2;
}

/* Bytes a variable-size parameter may take: at most max, and what is left. */
static __always_inline u32 ev_room(struct ev *e, u32 max)
{
	u32 room = e->pos < SENSOR_MAX_EVENT - EV_MARGIN ? SENSOR_MAX_EVENT - EV_MARGIN - e->pos : 0;
	return room < max ? room : max;
}

#define EV_FIXED(name, type)                                            \
	static __always_inline void name(struct ev *e, type v)          \
	{                                                               \
		*(type *)&e->buf[e->pos & OFF_MASK] = v;                \
		e->pos += sizeof(type);                                 \
		ev_len(e, sizeof(type));                                \
	}
EV_FIXED(ev_u8, u8)
EV_FIXED(ev_u16, u16)
EV_FIXED(ev_u32, u32)
EV_FIXED(ev_u64, u64)
EV_FIXED(ev_s32, s32)
EV_FIXED(ev_s64, s64)

/* A parameter with no value (the decoder leaves it absent or empty). */
static __always_inline void ev_empty(struct ev *e)
{
	ev_len(e, 0);
}

static __always_inline void ev_took(struct ev *e, long n)
{
	if (n < 0)
		n = 0;
	e->pos += n;
	ev_len(e, n);
}

/* A NUL-terminated string from user memory (the NUL is kept: the decoder drops it). */
static __always_inline void ev_user_str(struct ev *e, const void *uptr)
{
	u32 max = ev_room(e, SENSOR_MAX_STR) & SIZE_MASK;
	long n = 0;
	if (uptr && max)
		n = bpf_probe_read_user_str(&e->buf[e->pos & OFF_MASK], max, uptr);
	ev_took(e, n);
}

static __always_inline void ev_kernel_str(struct ev *e, const void *kptr)
{
	u32 max = ev_room(e, SENSOR_MAX_STR) & SIZE_MASK;
	long n = 0;
	if (kptr && max)
		n = bpf_probe_read_kernel_str(&e->buf[e->pos & OFF_MASK], max, kptr);
	ev_took(e, n);
}

/* len bytes of user memory, cut at cap. */
static __always_inline void ev_user_bytes(struct ev *e, const void *uptr, u64 len, u32 cap)
{
	u32 max = ev_room(e, cap);
	u32 n = len < max ? len : max;
	n &= SIZE_MASK;
	if (!uptr || !n || bpf_probe_read_user(&e->buf[e->pos & OFF_MASK], n, uptr))
		n = 0;
	ev_took(e, n);
}

/* Raw bytes of kernel memory (a struct already in a map value, a stash). */
static __always_inline void ev_kernel_bytes(struct ev *e, const void *kptr, u32 len, u32 cap)
{
	u32 max = ev_room(e, cap);
	u32 n = len < max ? len : max;
	n &= SIZE_MASK;
	if (!kptr || !n || bpf_probe_read_kernel(&e->buf[e->pos & OFF_MASK], n, kptr))
		n = 0;
	ev_took(e, n);
}

/* Where the next parameter's bytes go, for writers that build a value in place
 * (sockaddr, socktuple); they call ev_took() after. */
static __always_inline u8 *ev_here(struct ev *e)
{
	return &e->buf[e->pos & OFF_MASK];
}

static __always_inline void ev_submit(struct ev *e)
{
	if (e->lens != SENSOR_OFF_LENS + 2 * e->nparams) {
		count_drop(CODE_BAD_BUILD);
		return;
	}
	u32 end = e->pos;
	u32 blen = (end + 4 + 3) & ~3U;
	*(u32 *)&e->buf[end & OFF_MASK] = 0;                     /* padding */
	*(u32 *)&e->buf[(blen - 4) & OFF_MASK] = blen;           /* trailer */
	*(u32 *)&e->buf[SENSOR_OFF_BLOCK_LEN] = blen;
	*(u32 *)&e->buf[SENSOR_OFF_EVENT_LEN] = end - SENSOR_EVENT_START;
	u64 flags = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= settings.wakeup_bytes
		? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(&events, e->buf, blen & SIZE_MASK, flags))
		count_drop(e->code);
}

/* --- arguments stashed at entry ------------------------------------------ */

static __always_inline struct stash *stash_get(bool create)
{
	struct task_struct *t = bpf_get_current_task_btf();
	return bpf_task_storage_get(&stash_map, t, 0,
				    create ? BPF_LOCAL_STORAGE_GET_F_CREATE : 0);
}

/* The stash for a new syscall (id: its exit code), or NULL. */
static __always_inline struct stash *stash_begin(u32 id)
{
	struct stash *st = stash_get(true);
	if (st) {
		st->id = id;
		st->len[0] = 0;
		st->len[1] = 0;
	}
	return st;
}

/* The stash the entry of this syscall filled, or NULL (then the exit reads
 * the arguments itself: the probe may have been attached mid-call). */
static __always_inline struct stash *stash_end(u32 id)
{
	struct stash *st = stash_get(false);
	if (!st || st->id != id)
		return NULL;
	st->id = 0;
	return st;
}

static __always_inline void stash_user_str(struct stash *st, int k, const void *uptr)
{
	long n = uptr ? bpf_probe_read_user_str(st->str[k & 1], SENSOR_MAX_STR, uptr) : 0;
	st->len[k & 1] = n > 0 ? n : 0;
}

/* String k of the stash when the entry read it, else read from user memory
 * now: the probe may have been attached mid-call, or the page was not in
 * memory at entry (a probe cannot fault it in; the syscall then did).  An
 * empty string takes 1 byte (its NUL), so a length of 0 means nothing read. */
static __always_inline void ev_arg_str(struct ev *e, struct stash *st, int k, const void *uptr)
{
	if (st && st->len[k & 1] > 0)
		ev_kernel_bytes(e, st->str[k & 1], st->len[k & 1], SENSOR_MAX_STR);
	else
		ev_user_str(e, uptr);
}

/* --- syscall arguments (x86_64: di si dx r10 r8 r9) ------------------------ */
#define SC_ARG1(regs) ((regs)->di)
#define SC_ARG2(regs) ((regs)->si)
#define SC_ARG3(regs) ((regs)->dx)
#define SC_ARG4(regs) ((regs)->r10)
#define SC_ARG5(regs) ((regs)->r8)
#define SC_ARG6(regs) ((regs)->r9)

/* Programs attach to the per-syscall tracepoints: fentry/fexit would cost
 * nothing for other syscalls, but this kernel refuses trampoline programs
 * (see docs/LIVE.md).  At exit the arguments come from the registers the task
 * saved on entry (the kernel leaves them as they were, except after a
 * successful exec: those events use what the entry stashed).
 *
 *   SYSCALL_ENTRY(openat) { ... SC_ARG2(regs) ... }
 *   SYSCALL_EXIT(openat) { ... SC_ARG2(regs) ... ret ... } */
#define SYSCALL_EXIT(name)                                                      \
	static __always_inline int exit_##name(struct pt_regs *regs, long ret); \
	SEC("tp/syscalls/sys_exit_" #name)                                      \
	int sys_exit_##name(struct trace_event_raw_sys_exit *ctx)               \
	{                                                                       \
		if (skip_current())                                             \
			return 0;                                               \
		struct pt_regs *regs = (struct pt_regs *)bpf_task_pt_regs(      \
			bpf_get_current_task_btf());                            \
		return exit_##name(regs, ctx->ret);                             \
	}                                                                       \
	static __always_inline int exit_##name(struct pt_regs *regs, long ret)

#define SYSCALL_ENTRY(name)                                                     \
	static __always_inline int entry_##name(struct pt_regs *regs);          \
	SEC("tp/syscalls/sys_enter_" #name)                                     \
	int sys_enter_##name(void *ctx)                                         \
	{                                                                       \
		if (skip_current())                                             \
			return 0;                                               \
		return entry_##name((struct pt_regs *)bpf_task_pt_regs(         \
			bpf_get_current_task_btf()));                           \
	}                                                                       \
	static __always_inline int entry_##name(struct pt_regs *regs)

#endif
