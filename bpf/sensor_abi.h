/* The record layout shared by the probes and user space (sensor/capture/bpf_abi.py
 * mirrors these numbers; tests/test_bpf_abi.py proves the two agree).
 *
 * Each ring record is one .scap V2 event block, so the .scap decoder reads live
 * events unchanged:
 *   u32 block type | u32 block length | u16 cpu |
 *   u64 ts | u64 tid | u32 event length | u16 code | u32 nparams | u16 lens[] | params |
 *   padding to 4 | u32 block length
 */
#ifndef SENSOR_ABI_H
#define SENSOR_ABI_H

#define SENSOR_BLOCK_TYPE      0x216   /* scap EV_BLOCK_TYPE_V2 */
#define SENSOR_OFF_BLOCK_LEN   4
#define SENSOR_OFF_CPU         8
#define SENSOR_OFF_TS          10
#define SENSOR_OFF_TID         18
#define SENSOR_OFF_EVENT_LEN   26
#define SENSOR_OFF_CODE        30
#define SENSOR_OFF_NPARAMS     32
#define SENSOR_OFF_LENS        36      /* u16 lens[nparams], then the parameters */
#define SENSOR_EVENT_START     10      /* the event header starts after type, length and cpu */

#define SENSOR_MAX_EVENT       32768   /* bytes of one record at most (power of 2) */
#define SENSOR_MAX_CODES       1024    /* entries of the drops map: one per event code */
#define SENSOR_MAX_STR         4096    /* one path or string parameter */
#define SENSOR_MAX_ARGS        4096    /* argv or environment bytes */
#define SENSOR_STASH_STRS      2       /* strings read at syscall entry, per thread */
#define SENSOR_EXCLUDED_SETS   256     /* the excluded map: sets of tgids, by tgid's low bits */
#define SENSOR_EXCLUDED_WAYS   4       /* tgids per set */
#define SENSOR_DEFAULT_CPUS    64      /* scratch_map entries unless the loader sets them */

/* Settings the loader writes into .rodata before load. */
struct sensor_settings {
	unsigned long long boot_to_epoch_ns;   /* add to bpf_ktime_get_boot_ns() */
	unsigned long long wakeup_bytes;       /* wake the reader past this many unread bytes */
};

#endif
