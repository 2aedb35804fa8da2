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
static __always_inline u64 pidns_init_start(struct task_struct *t)
{
	struct pid *pid = BPF_CORE_READ(t, thread_pid);
	u32 level = BPF_CORE_READ(pid, level);
	struct upid *u = &pid->numbers[0];
	struct pid_namespace *ns = NULL;
	bpf_probe_read_kernel(&ns, sizeof(ns), &u[level & 31].ns);
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
	ev_u64(e, ino ? BPF_CORE_READ(ino, i_ctime_sec) * 1000000000ULL +
			BPF_CORE_READ(ino, i_ctime_nsec) : 0);
	ev_u64(e, ino ? BPF_CORE_READ(ino, i_mtime_sec) * 1000000000ULL +
			BPF_CORE_READ(ino, i_mtime_nsec) : 0);
	ev_u32(e, BPF_CORE_READ(cred, euid.val));
	ev_file_path(e, exe);
}

/* After a successful exec the registers belong to the new program: the
 * entry keeps every argument the exit reports. */
SYSCALL_ENTRY(execve)
{
	struct stash *st = stash_begin(EV_EXECVE);
	if (st)
		stash_user_str(st, 0, (const void *)SC_ARG1(regs));
	return 0;
}

SYSCALL_EXIT(execve)
{
	struct stash *st = stash_end(EV_EXECVE);
	struct task_struct *t = bpf_get_current_task_btf();
	struct ev e;
	if (!ev_begin(&e, EV_EXECVE, EV_EXECVE_N))
		return 0;
	ev_s64(&e, ret);
	ev_exe_args(&e, t);
	ev_task_common(&e, t);
	ev_exec_tail(&e, t);
	if (st)
		ev_kernel_bytes(&e, st->str[0], st->len[0], SENSOR_MAX_STR);
	else
		ev_empty(&e);
	ev_submit(&e);
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

SYSCALL_EXIT(execveat)
{
	struct stash *st = stash_end(EV_EXECVEAT);
	struct task_struct *t = bpf_get_current_task_btf();
	struct ev e;
	if (!ev_begin(&e, EV_EXECVEAT, EV_EXECVEAT_N))
		return 0;
	ev_s64(&e, ret);
	ev_exe_args(&e, t);
	ev_task_common(&e, t);
	ev_exec_tail(&e, t);
	if (st) {
		ev_s64(&e, (s32)st->args[0]);
		ev_kernel_bytes(&e, st->str[0], st->len[0], SENSOR_MAX_STR);
	} else {
		ev_empty(&e);
		ev_empty(&e);
	}
	ev_submit(&e);
	return 0;
}

/* --- clone, clone3, fork, vfork --------------------------------------------- */

/* Event code and kernel clone flags of the clone-family call in progress. */
static __always_inline bool clone_call(struct pt_regs *regs, u32 *code, u64 *flags)
{
	switch (BPF_CORE_READ(regs, orig_ax)) {
	case NR_CLONE:
		*code = EV_CLONE;
		*flags = SC_ARG1(regs);
		return true;
	case NR_CLONE3:
		*code = EV_CLONE3;
		*flags = 0;     /* struct clone_args starts with the flags */
		bpf_probe_read_user(flags, sizeof(*flags), (const void *)SC_ARG1(regs));
		return true;
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
	if (vtid != BPF_CORE_READ(t, pid))
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
	ev_u8(&e, code & 0x7f);
	ev_u8(&e, (code & 0x80) != 0);
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

/* A "dyn" parameter holding an unsigned 64-bit value: type index 0, the value. */
static __always_inline void ev_dyn_u64(struct ev *e, u64 v)
{
	u8 *p = ev_here(e);
	p[0] = 0;
	e->buf[(e->pos + 1) & OFF_MASK] = 0;    /* keeps the verifier's view of p simple */
	*(u64 *)&e->buf[(e->pos + 1) & OFF_MASK] = v;
	ev_took(e, 9);
}

SYSCALL_EXIT(ptrace)
{
	struct ev e;
	if (!ev_begin(&e, EV_PTRACE, EV_PTRACE_N))
		return 0;
	ev_s64(&e, ret);
	ev_dyn_u64(&e, SC_ARG3(regs));
	ev_dyn_u64(&e, SC_ARG4(regs));
	ev_u16(&e, ptrace_request_ppm(SC_ARG1(regs)));
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
