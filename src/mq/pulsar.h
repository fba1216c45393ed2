/* pulsar.h — the Pulsar driver of mq.h (pulsar.c), for mq.c's driver table.
 * Configuration: mq_config.address = pulsar://host:port or pulsar+ssl://host:port;
 * mq_config.extra keys pulsar.tenant (default public), pulsar.namespace
 * (default default), pulsar.token, pulsar.tls.ca, pulsar.tls.verify_hostname,
 * pulsar.operation_timeout_ms. See docs/pulsar.md. */
#ifndef MCDC_MQ_PULSAR_H
#define MCDC_MQ_PULSAR_H

#include "mq/mq.h"

extern const mq_driver mq_pulsar_driver;

#endif
