/* Network syscalls. */
#ifndef SENSOR_PROGS_NET_H
#define SENSOR_PROGS_NET_H
#endif
