/* Process syscalls and the scheduler's exit tracepoint.
 *
 * A new process shows up twice, as in the driver: the caller's clone exit
 * (res = the child's tid) and the child's own (res = 0): the child leaves the
 * syscall through the same exit tracepoint, with a copy of the caller's
 * registers (which call, which flags). */
#ifndef SENSOR_PROGS_PROC_H
#define SENSOR_PROGS_PROC_H

#define NR_CLONE  56
#define NR_FORK   57
#define NR_VFORK  58
#define NR_CLONE3 435
#define K_CLONE_VM    0x00000100
#define K_CLONE_VFORK 0x00004000
#define K_NSEC_MASK   0x3fffffff   /* nanoseconds < 2^30 */

/* tid, pid, ptid, cwd, fdlimit, pgft_maj, pgft_min, vm_size, vm_rss, vm_swap,
 * comm, cgroups: the middle of the execve and clone families' events. */
static __always_inline void ev_task_common(struct ev *e, struct task_struct *t)
{
	ev_s64(e, BPF_CORE_READ(t, pid));
	ev_s64(e, BPF_CORE_READ(t, tgid));
	ev_s64(e, BPF_CORE_READ(t, real_parent, pid));
	ev_cwd(e, t);
	ev_task_usage(e, t);
	ev_cgroups(e, t);
}

/* The start of the task's pid namespace's init, in ns since the epoch. */
/* The pid namespace of the task (where its pid was made). */
static __always_inline struct pid_namespace *task_pidns(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	u32 level = BPF_CORE_READ(pid, level);
	struct upid *u = &pid->numbers[0];
	struct pid_namespace *ns = NULL;
	bpf_probe_read_kernel(&ns, sizeof(ns), &u[level & 31].ns);
	return ns;
}

static __always_inline u32 task_pidns_level(struct task_struct *t)
{
	return BPF_CORE_READ(t, thread_pid, level);
}

static __always_inline u64 pidns_init_start(struct task_struct *t)
{
	struct pid_namespace *ns = task_pidns(t);
	u64 start = BPF_CORE_READ(ns, child_reaper, start_boottime);
	return start ? start + settings.boot_to_epoch_ns : 0;
}

/* --- execve, execveat ---------------------------------------------------- */

static __always_inline void ev_exec_tail(struct ev *e, struct task_struct *t)
{
	struct file *exe = BPF_CORE_READ(t, mm, exe_file);
	struct inode *ino = exe ? BPF_CORE_READ(exe, f_inode) : NULL;
	const struct cred *cred = BPF_CORE_READ(t, cred);
	ev_env(e, t);
	ev_u32(e, task_tty(t));
	ev_s64(e, task_vpgid(t));
	ev_u32(e, task_loginuid(t));
	ev_u32(e, exe_flags(t, exe));
	ev_u64(e, BPF_CORE_READ(cred, cap_inheritable.val));
	ev_u64(e, BPF_CORE_READ(cred, cap_permitted.val));
	ev_u64(e, BPF_CORE_READ(cred, cap_effective.val));
	ev_u64(e, ino ? BPF_CORE_READ(ino, i_ino) : 0);
	/* the top bit of i_ctime_nsec is the kernel's I_CTIME_QUERIED flag */
	ev_u64(e, ino ? BPF_CORE_READ(ino, i_ctime_sec) * 1000000000ULL +
			(BPF_CORE_READ(ino, i_ctime_nsec) & K_NSEC_MASK) : 0);
	ev_u64(e, ino ? BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ULL +
			(BPF_CORE_READ(ino, i_mtime_nsec) & K_NSEC_MASK) : 0);
	ev_u32(e, BPF_CORE_READ(cred, euid.val));
	ev_file_path(e, exe);
}

/* After a successful exec the registers belong to the new program: the
 * entry keeps every argument the exit reports.  A successful 64-bit exec also
 * makes the syscall look like execve (the kernel's set_personality_64bit sets
 * orig_ax to __NR_execve), so a successful execveat leaves through execve's
 * exit tracepoint: that exit tells the two apart by what the entry stashed. */
static __always_inline void exec_event(u32 code, long ret, struct stash *st)
{
	struct task_struct *t = bpf_get_current_task_btf();
	struct ev e;
	if (!ev_begin(&e, code, code == EV_EXECVEAT ? EV_EXECVEAT_N : EV_EXECVE_N))
		return;
	ev_s64(&e, ret);
	ev_exe_args(&e, t);
	ev_task_common(&e, t);
	ev_exec_tail(&e, t);
	if (code == EV_EXECVEAT) {
		if (st)
			ev_s64(&e, (s32)st->args[0]);
		else
			ev_empty(&e);
	}
	if (st)
		ev_kernel_bytes(&e, st->str[0], st->len[0], SENSOR_MAX_STR);
	else
		ev_empty(&e);
	ev_submit(&e);
}

SYSCALL_ENTRY(execve)
{
	struct stash *st = stash_begin(EV_EXECVE);
	if (st)
		stash_user_str(st, 0, (const void *)SC_ARG1(regs));
	return 0;
}

SYSCALL_EXIT(execve)
{
	struct stash *st = stash_get(false);
	u32 code = EV_EXECVE;
	if (st && st->id == EV_EXECVEAT && ret == 0)
		code = EV_EXECVEAT;
	else if (st && st->id != EV_EXECVE)
		st = NULL;
	if (st)
		st->id = 0;
	exec_event(code, ret, st);
	return 0;
}

SYSCALL_ENTRY(execveat)
{
	struct stash *st = stash_begin(EV_EXECVEAT);
	if (st) {
		st->args[0] = SC_ARG1(regs);
		stash_user_str(st, 0, (const void *)SC_ARG2(regs));
	}
	return 0;
}

/* Failed execveat calls (the successful ones: see execve's exit). */
SYSCALL_EXIT(execveat)
{
	exec_event(EV_EXECVEAT, ret, stash_end(EV_EXECVEAT));
	return 0;
}

/* --- clone, clone3, fork, vfork --------------------------------------------- */

/* clone3's flags, from its entry: a new thread (CLONE_VM) reads its own exit's
 * arguments from memory it shares with the caller, and by the time it runs the
 * caller has usually returned and reused the stack that held struct
 * clone_args.  Keyed by the address space and the clone_args address, both of
 * which a CLONE_VM child shares (any other child reads its own copy of memory). */
struct clone3_key {
	u64 uargs;
	u64 mm;
};

static __always_inline void clone3_key_of(struct clone3_key *k, struct pt_regs *regs)
{
	k->uargs = SC_ARG1(regs);
	k->mm = (u64)BPF_CORE_READ(bpf_get_current_task_btf(), mm);
}
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, struct clone3_key);
	__type(value, u64);
} clone3_flags SEC(".maps");

SYSCALL_ENTRY(clone3)
{
	struct clone3_key k = {};
	u64 flags = 0;
	clone3_key_of(&k, regs);
	if (!bpf_probe_read_user(&flags, sizeof(flags), (const void *)k.uargs))
		bpf_map_update_elem(&clone3_flags, &k, &flags, BPF_ANY);
	return 0;
}

/* Event code and kernel clone flags of the clone-family call in progress. */
static __always_inline bool clone_call(struct pt_regs *regs, u32 *code, u64 *flags)
{
	switch (BPF_CORE_READ(regs, orig_ax)) {
	case NR_CLONE:
		*code = EV_CLONE;
		*flags = SC_ARG1(regs);
		return true;
	case NR_CLONE3: {
		struct clone3_key k = {};
		clone3_key_of(&k, regs);
		u64 *stashed = bpf_map_lookup_elem(&clone3_flags, &k);
		*code = EV_CLONE3;
		*flags = 0;     /* struct clone_args starts with the flags */
		if (stashed)
			*flags = *stashed;
		else
			bpf_probe_read_user(flags, sizeof(*flags), (const void *)k.uargs);
		return true;
	}
	case NR_FORK:
		*code = EV_FORK;
		*flags = 0;
		return true;
	case NR_VFORK:
		*code = EV_VFORK;
		*flags = K_CLONE_VM | K_CLONE_VFORK;
		return true;
	}
	return false;
}

/* The clone-family event of task t (the caller, or the new child: res 0). */
static __always_inline void clone_event(u32 code, s64 res, struct task_struct *t, u64 kflags)
{
	struct ev e;
	if (!ev_begin(&e, code, EV_CLONE_N))
		return;
	if (res == 0)
		ev_set_tid(&e, BPF_CORE_READ(t, pid));
	s64 vtid = task_vtid(t);
	u32 flags = clone_flags_ppm(kflags);
	/* in a pid namespace below the initial one, or (the caller) making
	 * children in another one after unshare(CLONE_NEWPID) */
	if (task_pidns_level(t) != 0 ||
	    BPF_CORE_READ(t, nsproxy, pid_ns_for_children) != task_pidns(t))
		flags |= PPM_CL_CHILD_IN_PIDNS;
	ev_s64(&e, res);
	ev_exe_args(&e, t);
	ev_task_common(&e, t);
	ev_u32(&e, flags);
	ev_u32(&e, BPF_CORE_READ(t, cred, euid.val));
	ev_u32(&e, BPF_CORE_READ(t, cred, egid.val));
	ev_s64(&e, vtid);
	ev_s64(&e, task_vpid(t));
	ev_u64(&e, pidns_init_start(t));
	ev_submit(&e);
}

#define CLONE_EXIT(name)                                                        \
	SYSCALL_EXIT(name)                                                      \
	{                                                                       \
		u32 code;                                                       \
		u64 kflags;                                                     \
		if (clone_call(regs, &code, &kflags))                           \
			clone_event(code, ret, bpf_get_current_task_btf(), kflags); \
		return 0;                                                       \
	}
CLONE_EXIT(clone)
CLONE_EXIT(clone3)
CLONE_EXIT(fork)
CLONE_EXIT(vfork)

/* --- process exit ------------------------------------------------------------ */

SEC("tp_btf/sched_process_exit")
int BPF_PROG(sched_process_exit, struct task_struct *p)
{
	if (skip_current() || (BPF_CORE_READ(p, flags) & K_PF_KTHREAD))
		return 0;
	struct ev e;
	if (!ev_begin(&e, EV_PROCEXIT, EV_PROCEXIT_N))
		return 0;
	s64 code = BPF_CORE_READ(p, exit_code);
	ev_s64(&e, code);
	ev_s64(&e, (code >> 8) & 0xff);
	u8 sig = code & 0x7f;                   /* WTERMSIG when WIFSIGNALED */
	ev_u8(&e, sig != 0x7f ? sig : 0);
	ev_u8(&e, sig != 0 && sig != 0x7f && (code & 0x80));
	ev_s64(&e, 0);          /* reaper: the state engine reparents to init */
	ev_submit(&e);
	return 0;
}

/* --- credentials, sessions ---------------------------------------------------- */

SYSCALL_EXIT(setuid)
{
	struct ev e;
	if (!ev_begin(&e, EV_SETUID, EV_SETUID_N))
		return 0;
	ev_s64(&e, ret);
	ev_u32(&e, SC_ARG1(regs));
	ev_submit(&e);
	return 0;
}

SYSCALL_EXIT(setgid)
{
	struct ev e;
	if (!ev_begin(&e, EV_SETGID, EV_SETGID_N))
		return 0;
	ev_s64(&e, ret);
	ev_u32(&e, SC_ARG1(regs));
	ev_submit(&e);
	return 0;
}

#define SETRES_EXIT(name, code, n)                                              \
	SYSCALL_EXIT(name)                                                      \
	{                                                                       \
		struct ev e;                                                    \
		if (!ev_begin(&e, code, n))                                     \
			return 0;                                               \
		ev_s64(&e, ret);                                                \
		ev_u32(&e, SC_ARG1(regs));                                      \
		ev_u32(&e, SC_ARG2(regs));                                      \
		ev_u32(&e, SC_ARG3(regs));                                      \
		ev_submit(&e);                                                  \
		return 0;                                                       \
	}
SETRES_EXIT(setresuid, EV_SETRESUID, EV_SETRESUID_N)
SETRES_EXIT(setresgid, EV_SETRESGID, EV_SETRESGID_N)

SYSCALL_EXIT(setsid)
{
	struct ev e;
	if (!ev_begin(&e, EV_SETSID, EV_SETSID_N))
		return 0;
	ev_s64(&e, ret);
	ev_submit(&e);
	return 0;
}

#define K_PR_SET_NAME 15
#define K_PR_GET_NAME 16
#define K_PR_GET_CHILD_SUBREAPER 37

SYSCALL_EXIT(prctl)
{
	struct ev e;
	u64 option = SC_ARG1(regs);
	if (!ev_begin(&e, EV_PRCTL, EV_PRCTL_N))
		return 0;
	ev_s64(&e, ret);
	ev_u32(&e, option);
	if (option == K_PR_SET_NAME || option == K_PR_GET_NAME) {
		ev_user_str(&e, (const void *)SC_ARG2(regs));
		ev_empty(&e);
	} else if (option == K_PR_GET_CHILD_SUBREAPER) {
		/* the value the kernel wrote where arg2 points */
		s32 v = 0;
		bpf_probe_read_user(&v, sizeof(v), (const void *)SC_ARG2(regs));
		ev_empty(&e);
		ev_s64(&e, v);
	} else {
		ev_empty(&e);
		ev_s64(&e, SC_ARG2(regs));
	}
	ev_submit(&e);
	return 0;
}

/* --- ptrace, kill, namespaces, bpf ---------------------------------------------- */

/* The driver's ptrace request numbers (sensor/events/flags.py ptrace_requests). */
static __always_inline u16 ptrace_request_ppm(u64 r)
{
	if (r <= 9)
		return r + 1;           /* TRACEME .. SINGLESTEP */
	if (r >= 0x4200 && r <= 0x420b)
		return r - 0x4200 + 14; /* SETOPTIONS .. SETSIGMASK */
	switch (r) {
	case 16: return 11;     /* ATTACH */
	case 17: return 12;     /* DETACH */
	case 24: return 13;     /* SYSCALL */
	case 12: return 26;     /* GETREGS */
	case 13: return 27;
	case 14: return 28;
	case 15: return 29;
	case 18: return 30;     /* GETFPXREGS */
	case 19: return 31;
	case 21: return 32;     /* OLDSETOPTIONS */
	case 25: return 33;     /* GET_THREAD_AREA */
	case 26: return 34;
	case 30: return 35;     /* ARCH_PRCTL */
	case 31: return 36;     /* SYSEMU */
	case 32: return 37;
	case 33: return 38;     /* SINGLEBLOCK */
	}
	return 0;               /* UNKNOWN */
}

/* "dyn" parameters: a type index, then the value (the driver's
 * PPM_PTRACE_IDX_UINT64 0: u64, PPM_PTRACE_IDX_SIGTYPE 1: u8). */
static __always_inline void ev_dyn_u64(struct ev *e, u64 v)
{
	e->buf[e->pos & OFF_MASK] = 0;
	*(u64 *)&e->buf[(e->pos + 1) & OFF_MASK] = v;
	ev_took(e, 9);
}

static __always_inline void ev_dyn_sig(struct ev *e, u8 v)
{
	e->buf[e->pos & OFF_MASK] = 1;
	e->buf[(e->pos + 1) & OFF_MASK] = v;
	ev_took(e, 2);
}

#define PPM_PTRACE_PEEKTEXT   2
#define PPM_PTRACE_PEEKUSR    4
#define PPM_PTRACE_CONT       8
#define PPM_PTRACE_SINGLESTEP 10
#define PPM_PTRACE_DETACH     12
#define PPM_PTRACE_SYSCALL    13

/* As the driver: a failed call has addr and data 0; PEEK* requests report the
 * word the kernel stored at data, CONT/SINGLESTEP/DETACH/SYSCALL the signal
 * data carries, the others data itself. */
SYSCALL_EXIT(ptrace)
{
	struct ev e;
	u16 req = ptrace_request_ppm(SC_ARG1(regs));
	u64 data = SC_ARG4(regs);
	if (!ev_begin(&e, EV_PTRACE, EV_PTRACE_N))
		return 0;
	ev_s64(&e, ret);
	if (ret < 0) {
		ev_dyn_u64(&e, 0);
		ev_dyn_u64(&e, 0);
	} else {
		ev_dyn_u64(&e, SC_ARG3(regs));
		if (req >= PPM_PTRACE_PEEKTEXT && req <= PPM_PTRACE_PEEKUSR) {
			u64 word = 0;
			bpf_probe_read_user(&word, sizeof(word), (const void *)data);
			ev_dyn_u64(&e, word);
		} else if (req == PPM_PTRACE_CONT || req == PPM_PTRACE_SINGLESTEP ||
			   req == PPM_PTRACE_DETACH || req == PPM_PTRACE_SYSCALL) {
			ev_dyn_sig(&e, data);
		} else {
			ev_dyn_u64(&e, data);
		}
	}
	ev_u16(&e, req);
	ev_s64(&e, (s32)SC_ARG2(regs));
	ev_submit(&e);
	return 0;
}

SYSCALL_EXIT(kill)
{
	struct ev e;
	if (!ev_begin(&e, EV_KILL, EV_KILL_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, (s32)SC_ARG1(regs));
	ev_u8(&e, SC_ARG2(regs));
	ev_submit(&e);
	return 0;
}

SYSCALL_EXIT(setns)
{
	struct ev e;
	if (!ev_begin(&e, EV_SETNS, EV_SETNS_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, (s32)SC_ARG1(regs));
	ev_u32(&e, clone_flags_ppm(SC_ARG2(regs)));
	ev_submit(&e);
	return 0;
}

SYSCALL_EXIT(unshare)
{
	struct ev e;
	if (!ev_begin(&e, EV_UNSHARE, EV_UNSHARE_N))
		return 0;
	ev_s64(&e, ret);
	ev_u32(&e, clone_flags_ppm(SC_ARG1(regs)));
	ev_submit(&e);
	return 0;
}

SYSCALL_EXIT(bpf)
{
	struct ev e;
	if (!ev_begin(&e, EV_BPF, EV_BPF_N))
		return 0;
	ev_s64(&e, ret);
	ev_u32(&e, SC_ARG1(regs));
	ev_submit(&e);
	return 0;
}

#endif
