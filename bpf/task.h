/* What the events read from the task: ids, credentials, paths. */
#ifndef SENSOR_TASK_H
#define SENSOR_TASK_H
#endif
