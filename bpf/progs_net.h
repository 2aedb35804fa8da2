/* Network syscalls: socket, connect, bind, listen, accept, accept4, sendto,
 * sendmsg.  Socket state comes from the kernel socket behind the fd (sock.h);
 * the sockaddr a caller passes is copied at entry (user space could rewrite it
 * before the exit).  Failed calls are events too, with what is known. */
#ifndef SENSOR_PROGS_NET_H
#define SENSOR_PROGS_NET_H

#include "sock.h"

/* fd:fd domain:enumflags32 type:uint32 proto:uint32 */
SYSCALL_EXIT(socket)
{
	struct ev e;
	if (!ev_begin(&e, EV_SOCKET, EV_SOCKET_N))
		return 0;
	ev_s64(&e, ret);
	ev_u32(&e, sock_family_ppm(SC_ARG1(regs)));
	ev_u32(&e, SC_ARG2(regs));
	ev_u32(&e, SC_ARG3(regs));
	ev_submit(&e);
	return 0;
}

/* res:errno tuple:socktuple fd:fd addr:sockaddr */
SYSCALL_ENTRY(connect)
{
	struct stash *st = stash_begin(EV_CONNECT);
	if (st)
		stash_uaddr(st, (const void *)SC_ARG2(regs), (u32)SC_ARG3(regs));
	return 0;
}

SYSCALL_EXIT(connect)
{
	struct stash *st = stash_end(EV_CONNECT);
	u64 tmp[SOCK_ADDR_MAX / 8];
	u32 alen = 0;
	const u8 *sa = sock_uaddr(st, (u8 *)tmp, (const void *)SC_ARG2(regs), (u32)SC_ARG3(regs), &alen);
	long fd = (s32)SC_ARG1(regs);
	struct ev e;
	if (!ev_begin(&e, EV_CONNECT, EV_CONNECT_N))
		return 0;
	ev_s64(&e, ret);
	/* the driver's: a tuple once the kernel has chosen the source */
	if (ret == 0 || ret == -K_EINPROGRESS)
		ev_socktuple(&e, fd, SOCK_OUT, sa, 0);
	else
		ev_empty(&e);
	ev_s64(&e, fd);
	ev_sockaddr(&e, sa, alen);
	ev_submit(&e);
	return 0;
}

/* res:errno addr:sockaddr fd:fd */
SYSCALL_ENTRY(bind)
{
	struct stash *st = stash_begin(EV_BIND);
	if (st)
		stash_uaddr(st, (const void *)SC_ARG2(regs), (u32)SC_ARG3(regs));
	return 0;
}

SYSCALL_EXIT(bind)
{
	struct stash *st = stash_end(EV_BIND);
	u64 tmp[SOCK_ADDR_MAX / 8];
	u32 alen = 0;
	const u8 *sa = sock_uaddr(st, (u8 *)tmp, (const void *)SC_ARG2(regs), (u32)SC_ARG3(regs), &alen);
	struct ev e;
	if (!ev_begin(&e, EV_BIND, EV_BIND_N))
		return 0;
	ev_s64(&e, ret);
	ev_sockaddr(&e, sa, alen);
	ev_s64(&e, (s32)SC_ARG1(regs));
	ev_submit(&e);
	return 0;
}

/* res:errno fd:fd backlog:int32 */
SYSCALL_EXIT(listen)
{
	struct ev e;
	if (!ev_begin(&e, EV_LISTEN, EV_LISTEN_N))
		return 0;
	ev_s64(&e, ret);
	ev_s64(&e, (s32)SC_ARG1(regs));
	ev_s32(&e, SC_ARG2(regs));
	ev_submit(&e);
	return 0;
}

/* The new socket's tuple (the client is its peer) and the listening socket's queue. */
static __always_inline void ev_accepted(struct ev *e, struct pt_regs *regs, long ret)
{
	ev_s64(e, ret);
	if (ret >= 0)
		ev_socktuple(e, ret, SOCK_IN, NULL, 0);
	else
		ev_empty(e);
	ev_accept_queue(e, (s32)SC_ARG1(regs), ret >= 0);
}

/* fd:fd tuple:socktuple queuepct:uint8 queuelen:uint32 queuemax:uint32 */
SYSCALL_EXIT(accept)
{
	struct ev e;
	if (!ev_begin(&e, EV_ACCEPT, EV_ACCEPT_N))
		return 0;
	ev_accepted(&e, regs, ret);
	ev_submit(&e);
	return 0;
}

/* fd:fd tuple:socktuple queuepct:uint8 queuelen:uint32 queuemax:uint32 flags:int32
 * flags: the caller's (SOCK_NONBLOCK, SOCK_CLOEXEC) as the kernel has them. */
SYSCALL_EXIT(accept4)
{
	struct ev e;
	if (!ev_begin(&e, EV_ACCEPT4, EV_ACCEPT4_N))
		return 0;
	ev_accepted(&e, regs, ret);
	ev_s32(&e, SC_ARG4(regs));
	ev_submit(&e);
	return 0;
}

/* res:errno data:bytebuf fd:fd size:uint32 tuple:socktuple
 * data: the first bytes sent (of the buffer when the call failed). */
SYSCALL_ENTRY(sendto)
{
	struct stash *st = stash_begin(EV_SENDTO);
	if (st)
		stash_uaddr(st, (const void *)SC_ARG5(regs), (u32)SC_ARG6(regs));
	return 0;
}

SYSCALL_EXIT(sendto)
{
	struct stash *st = stash_end(EV_SENDTO);
	u64 tmp[SOCK_ADDR_MAX / 8];
	u32 alen = 0;
	const u8 *sa = sock_uaddr(st, (u8 *)tmp, (const void *)SC_ARG5(regs), (u32)SC_ARG6(regs), &alen);
	u64 size = (u32)SC_ARG3(regs);
	long fd = (s32)SC_ARG1(regs);
	struct ev e;
	if (!ev_begin(&e, EV_SENDTO, EV_SENDTO_N))
		return 0;
	ev_s64(&e, ret);
	ev_user_bytes(&e, (const void *)SC_ARG2(regs), ret > 0 ? ret : size, SOCK_SNAPLEN);
	ev_s64(&e, fd);
	ev_u32(&e, size);
	ev_socktuple(&e, fd, SOCK_OUT, sa, alen);
	ev_submit(&e);
	return 0;
}

/* res:errno data:bytebuf fd:fd size:uint32 tuple:socktuple
 * data: the first bytes of the iovecs; size: their total length. */
SYSCALL_ENTRY(sendmsg)
{
	struct stash *st = stash_begin(EV_SENDMSG);
	struct user_msghdr m;
	if (!st)
		return 0;
	st->len[0] = 0;
	if (!bpf_probe_read_user(&m, sizeof(m), (const void *)SC_ARG2(regs)))
		stash_uaddr(st, m.msg_name, (u32)m.msg_namelen);
	return 0;
}

SYSCALL_EXIT(sendmsg)
{
	struct stash *st = stash_end(EV_SENDMSG);
	struct user_msghdr m = {};
	u64 tmp[SOCK_ADDR_MAX / 8];
	u32 alen = 0;
	bool have = !bpf_probe_read_user(&m, sizeof(m), (const void *)SC_ARG2(regs));
	const u8 *sa = sock_uaddr(st, (u8 *)tmp, have ? m.msg_name : NULL, (u32)m.msg_namelen, &alen);
	long fd = (s32)SC_ARG1(regs);
	struct ev e;
	if (!ev_begin(&e, EV_SENDMSG, EV_SENDMSG_N))
		return 0;
	ev_s64(&e, ret);
	u64 size = ev_iov_data(&e, have ? m.msg_iov : NULL, m.msg_iovlen,
			       ret > 0 ? ret : (u64)-1);
	ev_s64(&e, fd);
	ev_u32(&e, size);
	ev_socktuple(&e, fd, SOCK_OUT, sa, alen);
	ev_submit(&e);
	return 0;
}

#endif
