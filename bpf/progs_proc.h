/* Process syscalls and the scheduler's fork and exit tracepoints. */
#ifndef SENSOR_PROGS_PROC_H
#define SENSOR_PROGS_PROC_H
#endif
