/* idmap.c — see idmap.h. */
#include "base/idmap.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static size_t hash(int64_t k) {
    /* splitmix64 finaliser: Milvus ids share their high bits (they are
     * timestamps), so the low bits alone would cluster. */
    uint64_t x = (uint64_t)k;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return (size_t)x;
}

static idmap_slot *find(const idmap *m, int64_t key) {
    if (!m->cap) return NULL;
    for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        idmap_slot *s = &m->slots[i];
        if (s->state == 0) return NULL;
        if (s->state == 1 && s->key == key) return s;
    }
}

void *idmap_get(const idmap *m, int64_t key) {
    idmap_slot *s = find(m, key);
    return s ? s->value : NULL;
}

/* Rehashes into room for `want` live entries (at most half full), dropping
 * tombstones; a no-op when the table already has that room and few
 * tombstones. */
static void grow_for(idmap *m, size_t want) {
    size_t cap = m->cap ? m->cap : 8;
    while (cap < 2 * want) cap *= 2;
    if (cap == m->cap && m->filled < m->cap / 2) return;
    idmap_slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = mcdc_xcalloc(cap, sizeof *m->slots);
    m->cap = cap;
    m->used = m->filled = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].state == 1) idmap_put(m, old[i].key, old[i].value);
    free(old);
}

static void grow(idmap *m) { grow_for(m, m->used + 1); }

void idmap_reserve(idmap *m, size_t n) {
    if (2 * n > m->cap) grow_for(m, n > m->used ? n : m->used);
}

void idmap_clear(idmap *m) {
    if (m->cap) memset(m->slots, 0, m->cap * sizeof *m->slots);
    m->used = m->filled = 0;
}

void *idmap_put(idmap *m, int64_t key, void *value) {
    idmap_slot *s = find(m, key);
    if (s) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    if (2 * (m->filled + 1) > m->cap) grow(m);
    for (size_t i = hash(key) & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
        s = &m->slots[i];
        if (s->state != 1) {
            if (s->state == 0) m->filled++;
            s->state = 1;
            s->key = key;
            s->value = value;
            m->used++;
            return NULL;
        }
    }
}

void *idmap_del(idmap *m, int64_t key) {
    idmap_slot *s = find(m, key);
    if (!s) return NULL;
    s->state = 2;
    m->used--;
    return s->value;
}

size_t idmap_count(const idmap *m) { return m->used; }

void idmap_free(idmap *m) {
    free(m->slots);
    m->slots = NULL;
    m->cap = m->used = m->filled = 0;
}

int idmap_next(const idmap *m, size_t *iter, int64_t *key, void **value) {
    for (; *iter < m->cap; (*iter)++) {
        if (m->slots[*iter].state == 1) {
            if (key) *key = m->slots[*iter].key;
            if (value) *value = m->slots[*iter].value;
            (*iter)++;
            return 1;
        }
    }
    return 0;
}
