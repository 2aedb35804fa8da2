/* Sockets as the driver (scap) encodes them: the sockaddr a caller passed and
 * the connection tuple of a kernel socket.  Layouts (sensor/events/params.py):
 *
 *   sockaddr   u8 family | AF_INET: addr[4] (network order), u16 port (host order)
 *                        | AF_INET6: addr[16], u16 port | AF_UNIX: path, NUL
 *   socktuple  u8 family | AF_INET: sip[4] u16 sport dip[4] u16 dport
 *                        | AF_INET6: sip[16] u16 sport dip[16] u16 dport
 *                        | AF_UNIX: u64, u64 (kernel socket pointers), path, NUL
 *
 * The tuple's source is the client: for connect/send the socket's own end, for
 * accept the peer.  Unix tuples, like the driver's: for outbound calls the
 * peer's pointer then the socket's own, for accept the socket's own then the
 * peer's; the path is the server end's (the peer's for outbound calls, the
 * socket's own for accept), else whichever end has one.  Abstract names lose
 * their leading NUL. */
#ifndef SENSOR_SOCK_H
#define SENSOR_SOCK_H

#define K_AF_UNIX       1
#define K_AF_INET       2
#define K_AF_INET6      10
#define K_PPM_AF_MAX    39      /* AF_NFC: the driver knows families up to here */
#define K_S_IFMT        0170000
#define K_S_IFSOCK      0140000
#define K_EINPROGRESS   115

#define SOCK_SNAPLEN    80      /* bytes of sent data, the driver's default snaplen */
#define SOCK_ADDR_MAX   128     /* sizeof(struct sockaddr_storage) */
#define SOCK_UNIX_PATH  108     /* sizeof(sun_path) */
#define SOCK_MAX_IOV    32      /* iovecs of a sendmsg we look at, like the driver */

#define SOCK_OUT        true    /* connect, send: the socket's end is the source */
#define SOCK_IN         false   /* accept: the peer is the source */

static __always_inline u16 sock_ntohs(u16 v)
{
	return __builtin_bswap16(v);
}

/* The family as the driver writes it (PPM_AF_* equal Linux's up to AF_NFC). */
static __always_inline u32 sock_family_ppm(u64 domain)
{
	return domain <= K_PPM_AF_MAX ? domain : 0;
}

/* The kernel socket behind fd, or NULL when fd is not a socket. */
static __always_inline struct sock *sock_of_fd(long fd)
{
	struct file *f = fd_file(fd);
	if (!f)
		return NULL;
	u16 mode = f->f_inode->i_mode;
	if ((mode & K_S_IFMT) != K_S_IFSOCK)
		return NULL;
	struct socket *so = bpf_rdonly_cast(f->private_data, bpf_core_type_id_kernel(struct socket));
	return so ? so->sk : NULL;
}

/* --- the caller's sockaddr ------------------------------------------------- */

/* Copy the caller's sockaddr into dst (SOCK_ADDR_MAX bytes, zeroed past the
 * copy so that a path always ends); returns the bytes copied, 0 if none. */
static __always_inline u32 sock_copy_uaddr(u8 *dst, const void *uptr, u64 ulen)
{
	u32 n = ulen;
	u64 *d = (u64 *)dst;
#pragma unroll
	for (int k = 0; k < SOCK_ADDR_MAX / 8; k++)
		d[k] = 0;
	asm volatile("" : "+r"(n));             /* keep the bound below for the verifier */
	if (n > SOCK_ADDR_MAX)
		n = SOCK_ADDR_MAX;
	if (!uptr || !n || bpf_probe_read_user(dst, n, uptr))
		return 0;
	return n;
}

/* At entry: the caller's sockaddr into the stash's first string buffer. */
static __always_inline void stash_uaddr(struct stash *st, const void *uptr, u64 ulen)
{
	st->len[0] = sock_copy_uaddr((u8 *)st->str[0], uptr, ulen);
}

/* At exit: the sockaddr the entry stashed, else read now into tmp. */
static __always_inline const u8 *sock_uaddr(struct stash *st, u8 *tmp, const void *uptr,
					    u64 ulen, u32 *len)
{
	if (st) {
		*len = st->len[0];
		return (const u8 *)st->str[0];
	}
	*len = sock_copy_uaddr(tmp, uptr, ulen);
	return tmp;
}

/* Copy a unix path (a sun_path in kernel memory, at most max bytes long) to
 * dst with its NUL, the abstract name's leading NUL skipped; returns the bytes
 * written. */
static __always_inline u32 sock_put_path(u8 *dst, const char *path, u32 max)
{
	char first = 0;
	if (!path || bpf_probe_read_kernel(&first, 1, path))
		return 0;
	if (!first) {
		path++;
		max = max ? max - 1 : 0;
	}
	if (max > SOCK_UNIX_PATH)
		max = SOCK_UNIX_PATH;
	long n = bpf_probe_read_kernel_str(dst, (max + 1) & 0xff, path);
	return n > 0 ? n : 0;
}

/* The sockaddr parameter from a copy of len bytes in kernel memory. */
static __always_inline void ev_sockaddr(struct ev *e, const u8 *sa, u32 len)
{
	u8 *b = ev_here(e);
	u16 fam = len >= 2 ? *(const u16 *)sa : 0;
	switch (fam) {
	case K_AF_INET:
		b[0] = K_AF_INET;
		*(u32 *)&b[1] = *(const u32 *)&sa[4];
		*(u16 *)&b[5] = sock_ntohs(*(const u16 *)&sa[2]);
		ev_took(e, 7);
		return;
	case K_AF_INET6:
		b[0] = K_AF_INET6;
		*(u64 *)&b[1] = *(const u64 *)&sa[8];
		*(u64 *)&b[9] = *(const u64 *)&sa[16];
		*(u16 *)&b[17] = sock_ntohs(*(const u16 *)&sa[2]);
		ev_took(e, 19);
		return;
	case K_AF_UNIX:
		b[0] = K_AF_UNIX;
		ev_took(e, 1 + sock_put_path(&b[1], (const char *)&sa[2],
					     len > 2 ? len - 2 : 0));
		return;
	}
	ev_empty(e);
}

/* --- the tuple of a kernel socket ------------------------------------------ */

static __always_inline const char *unix_path(struct sock *sk, u32 *max)
{
	struct unix_address *a = sk ? BPF_CORE_READ((struct unix_sock *)sk, addr) : NULL;
	if (!a)
		return NULL;
	int len = BPF_CORE_READ(a, len);
	int plen = len - 2;                      /* after sun_family */
	if (plen <= 0)
		return NULL;
	*max = plen;
	return (const char *)&a->name[0].sun_path;
}

/* The socktuple of fd; ua/ualen: the caller's destination (sendto, sendmsg),
 * used where the socket has no peer (an unconnected datagram socket). */
static __always_inline void ev_socktuple(struct ev *e, long fd, bool out,
					 const u8 *ua, u32 ualen)
{
	struct sock *sk = sock_of_fd(fd);
	u16 fam = sk ? sk->__sk_common.skc_family : 0;
	u16 ufam = ualen >= 2 ? *(const u16 *)ua : 0;
	u8 *b = ev_here(e);
	u32 lo = out ? 0 : 1, re = out ? 1 : 0;   /* slot of each end: the client first */

	if (fam == K_AF_INET) {
		u32 laddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		u16 lport = BPF_CORE_READ(sk, __sk_common.skc_num);
		u32 raddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
		u16 rport = sock_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (!rport && ufam == K_AF_INET) {
			raddr = *(const u32 *)&ua[4];
			rport = sock_ntohs(*(const u16 *)&ua[2]);
		}
		b[0] = K_AF_INET;
		*(u32 *)&b[1 + 6 * re] = raddr;
		*(u16 *)&b[5 + 6 * re] = rport;
		*(u32 *)&b[1 + 6 * lo] = laddr;
		*(u16 *)&b[5 + 6 * lo] = lport;
		ev_took(e, 13);
		return;
	}
	if (fam == K_AF_INET6) {
		u8 *l = &b[1 + 18 * lo], *r = &b[1 + 18 * re];
		b[0] = K_AF_INET6;
		BPF_CORE_READ_INTO((struct in6_addr *)l, sk, __sk_common.skc_v6_rcv_saddr);
		*(u16 *)&l[16] = BPF_CORE_READ(sk, __sk_common.skc_num);
		BPF_CORE_READ_INTO((struct in6_addr *)r, sk, __sk_common.skc_v6_daddr);
		u16 rport = sock_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
		if (!rport && ufam == K_AF_INET6) {
			*(u64 *)&r[0] = *(const u64 *)&ua[8];
			*(u64 *)&r[8] = *(const u64 *)&ua[16];
			rport = sock_ntohs(*(const u16 *)&ua[2]);
		}
		*(u16 *)&r[16] = rport;
		ev_took(e, 37);
		return;
	}
	if (fam == K_AF_UNIX) {
		struct sock *peer = BPF_CORE_READ((struct unix_sock *)sk, peer);
		const char *path;
		u32 max = 0, n = 0;
		b[0] = K_AF_UNIX;
		*(u64 *)&b[1] = out ? (u64)peer : (u64)sk;
		*(u64 *)&b[9] = out ? (u64)sk : (u64)peer;
		/* the server end's name, else the other end's */
		path = unix_path(out ? peer : sk, &max);
		if (!path && out && ufam == K_AF_UNIX) {
			path = (const char *)&ua[2];
			max = ualen - 2;
		}
		if (!path)
			path = unix_path(out ? sk : peer, &max);
		if (path)
			n = sock_put_path(&b[17], path, max);
		if (!n)
			b[17] = 0;
		ev_took(e, 17 + (n ? n : 1));
		return;
	}
	ev_empty(e);
}

/* The listening socket's accept queue: queuepct, queuelen, queuemax. */
static __always_inline void ev_accept_queue(struct ev *e, long listen_fd, bool ok)
{
	struct sock *sk = ok ? sock_of_fd(listen_fd) : NULL;
	u32 len = sk ? sk->sk_ack_backlog : 0;
	u32 max = sk ? sk->sk_max_ack_backlog : 0;
	u8 pct = len && max ? (u8)((u64)len * 100 / max) : 0;
	ev_u8(e, pct);
	ev_u32(e, len);
	ev_u32(e, max);
}

/* The data of a sendmsg: the first bytes of its iovecs (at most limit, and at
 * most SOCK_SNAPLEN), as one bytebuf parameter; returns the total length of
 * the iovecs (the size parameter).  One iovec per bpf_loop step: an unrolled
 * or bounded loop carrying the copied length explodes the verifier's states. */
struct iov_walk {
	const struct iovec *iov;
	u8 *dst;
	u64 cnt;
	u64 size;
	u32 got;
	u32 cap;
};

static long iov_step(u32 k, void *ctx)
{
	struct iov_walk *w = ctx;
	struct iovec v;
	if (k >= w->cnt || bpf_probe_read_user(&v, sizeof(v), &w->iov[k]))
		return 1;
	w->size += v.iov_len;
	u32 got = w->got;
	if (got < w->cap && v.iov_base) {
		u32 n = w->cap - got;
		if (v.iov_len < n)
			n = v.iov_len;
		got &= 0x7f;
		n &= 0x7f;
		if (n && !bpf_probe_read_user(&w->dst[got], n, v.iov_base))
			w->got = got + n;
	}
	return 0;
}

static __always_inline u64 ev_iov_data(struct ev *e, const struct iovec *iov, u64 cnt, u64 limit)
{
	struct iov_walk w = {
		.iov = iov,
		.dst = ev_here(e),
		.cnt = iov ? cnt : 0,
		.cap = ev_room(e, limit < SOCK_SNAPLEN ? limit : SOCK_SNAPLEN),
	};
	if (w.cnt)
		bpf_loop(SOCK_MAX_IOV, iov_step, &w, 0);
	ev_took(e, w.got);
	return w.size;
}

#endif
