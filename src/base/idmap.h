/* idmap.h — a hash map from int64 ids to pointers.
 *
 * Milvus names everything by int64 id (collections, partitions, fields,
 * databases); lookups by id sit on the path of every WAL message, so they are
 * O(1): open addressing with linear probing and tombstones, power-of-two
 * capacity, kept at most half full. The map does not own the values. */
#ifndef MCDC_IDMAP_H
#define MCDC_IDMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct idmap_slot {
    int64_t key;
    void *value;
    uint8_t state; /* 0 empty, 1 used, 2 deleted */
} idmap_slot;

typedef struct idmap {
    idmap_slot *slots;
    size_t cap;
    size_t used;   /* live entries */
    size_t filled; /* live + deleted, what probing has to walk past */
} idmap;

#define IDMAP_INIT {NULL, 0, 0, 0}

void *idmap_get(const idmap *m, int64_t key);
/* Inserts or replaces; returns the previous value or NULL. */
void *idmap_put(idmap *m, int64_t key, void *value);
/* Removes; returns the removed value or NULL. */
void *idmap_del(idmap *m, int64_t key);
size_t idmap_count(const idmap *m);
/* Room for n entries in all: a new or cleared map then takes n puts without
 * growing. */
void idmap_reserve(idmap *m, size_t n);
/* Removes every entry and keeps the room, for a map refilled over and over. */
void idmap_clear(idmap *m);
void idmap_free(idmap *m);

/* Iteration: for (size_t i = 0; idmap_next(m, &i, &k, &v);) ... */
int idmap_next(const idmap *m, size_t *iter, int64_t *key, void **value);

#endif
