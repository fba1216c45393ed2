/* catalog_int.h — a catalog without etcd, fed key by key: for tests and the
 * fuzzer (fuzz/fuzz_etcd_meta.c), so they exercise the very key parsing,
 * protobuf decoding and snapshot building that catalog_open runs on what it
 * reads from etcd. Not for the rest of mcdc, which only sees catalog.h. */
#ifndef MCDC_CATALOG_INT_H
#define MCDC_CATALOG_INT_H

#include <stddef.h>
#include <stdint.h>

#include "source/catalog.h"

/* An empty catalog of <root_path>/meta/root-coord/ with no etcd and no watch
 * thread; catalog_close frees it. The lookups of catalog.h work on it. */
catalog *catalog_new_detached(const char *root_path);

/* Applies one etcd key as a Range or a Watch event would: val NULL is a
 * deletion. key is the full key, prefix included; neither needs a NUL. */
void catalog_apply_kv(catalog *c, const char *key, size_t key_len, const uint8_t *val, size_t val_len);

#endif
