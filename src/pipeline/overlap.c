/* overlap.c — see overlap.h. Keys live in small open-addressing maps (key ->
 * newest ts), one per tracked collection for the stream's writes and one per
 * claimed page for the keys it holds in flight. */
#include "pipeline/overlap.h"

#include <assert.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/hash.h"

/* ---- a key -> ts map ------------------------------------------------------------------- */

typedef struct slot {
    bool used;
    int64_t i;
    char *s;          /* owned; NULL for an int64 key */
    uint64_t ts;
} slot;

typedef struct keymap {
    slot *slots;
    size_t cap, n;    /* cap a power of two, or 0 */
} keymap;

static uint64_t hash_int(int64_t v) {
    uint64_t x = (uint64_t)v;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static bool same(const slot *sl, int64_t i, const char *s) {
    return s ? sl->s && strcmp(sl->s, s) == 0 : !sl->s && sl->i == i;
}

static slot *find_slot(const keymap *m, int64_t i, const char *s) {
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1, at = (size_t)(s ? mcdc_hash_str(0, s) : hash_int(i)) & mask;
    for (;;) {
        slot *sl = &m->slots[at];
        if (!sl->used || same(sl, i, s)) return sl;
        at = (at + 1) & mask;
    }
}

static void map_put(keymap *m, int64_t i, const char *s, uint64_t ts);

static void grow(keymap *m) {
    keymap old = *m;
    m->cap = old.cap ? old.cap * 2 : 64;
    m->slots = mcdc_xcalloc(m->cap, sizeof *m->slots);
    m->n = 0;
    for (size_t k = 0; k < old.cap; k++) {
        slot *sl = &old.slots[k];
        if (!sl->used) continue;
        slot *to = find_slot(m, sl->i, sl->s);
        *to = *sl;   /* the string moves with it */
        m->n++;
    }
    free(old.slots);
}

/* Keeps the newest ts of a key. */
static void map_put(keymap *m, int64_t i, const char *s, uint64_t ts) {
    if ((m->n + 1) * 4 > m->cap * 3) grow(m);
    slot *sl = find_slot(m, i, s);
    if (sl->used) {
        if (ts > sl->ts) sl->ts = ts;
        return;
    }
    *sl = (slot){.used = true, .i = i, .s = s ? mcdc_xstrdup(s) : NULL, .ts = ts};
    m->n++;
}

static const slot *map_get(const keymap *m, int64_t i, const char *s) {
    const slot *sl = find_slot(m, i, s);
    return sl && sl->used ? sl : NULL;
}

static void map_clear(keymap *m) {
    for (size_t k = 0; k < m->cap; k++) free(m->slots[k].s);
    free(m->slots);
    *m = (keymap){0};
}

/* Only the keys with ts > after stay. */
static void map_keep_after(keymap *m, uint64_t after) {
    keymap old = *m;
    *m = (keymap){0};
    for (size_t k = 0; k < old.cap; k++) {
        slot *sl = &old.slots[k];
        if (!sl->used) continue;
        if (sl->ts > after) {
            if ((m->n + 1) * 4 > m->cap * 3) grow(m);
            *find_slot(m, sl->i, sl->s) = *sl;
            m->n++;
        } else {
            free(sl->s);
        }
    }
    free(old.slots);
}

overlap_keys overlap_keys_of_column(const Milvus__Proto__Schema__FieldData *pk) {
    const Milvus__Proto__Schema__ScalarField *sc = pk ? pk->scalars : NULL;
    if (!sc) return (overlap_keys){0};
    if (sc->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_LONG_DATA && sc->long_data)
        return (overlap_keys){.ints = sc->long_data->data, .n = sc->long_data->n_data};
    if (sc->data_case == MILVUS__PROTO__SCHEMA__SCALAR_FIELD__DATA_STRING_DATA && sc->string_data)
        return (overlap_keys){.strs = (const char *const *)sc->string_data->data, .n = sc->string_data->n_data};
    return (overlap_keys){0};
}

overlap_keys overlap_keys_of_ids(const Milvus__Proto__Schema__IDs *ids) {
    if (ids && ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_INT_ID && ids->int_id)
        return (overlap_keys){.ints = ids->int_id->data, .n = ids->int_id->n_data};
    if (ids && ids->id_field_case == MILVUS__PROTO__SCHEMA__IDS__ID_FIELD_STR_ID && ids->str_id)
        return (overlap_keys){.strs = (const char *const *)ids->str_id->data, .n = ids->str_id->n_data};
    return (overlap_keys){0};
}

overlap_keys overlap_keys_of_change(const change *c, const char *pk_name) {
    if (c->kind == CHANGE_DELETE) return overlap_keys_of_ids(change_delete(c)->primary_keys);
    const Milvus__Proto__Msg__InsertRequest *m = c->kind == CHANGE_INSERT ? change_insert(c) : NULL;
    for (size_t i = 0; m && pk_name && i < m->n_fields_data; i++)
        if (strcmp(m->fields_data[i]->field_name, pk_name) == 0) return overlap_keys_of_column(m->fields_data[i]);
    return (overlap_keys){0};
}

/* ---- pages and collections --------------------------------------------------------------- */

struct overlap_page {
    int64_t coll;
    uint64_t since;       /* 0 until set: then nothing may be forgotten for it */
    bool claimed;
    keymap held;          /* claimed: the keys it writes */
    overlap_page *next;
};

typedef struct coll_state {
    int64_t coll;
    uint64_t upsert_until;
    bool tracking;
    keymap written;       /* the stream's writes while tracking: key -> newest ts */
    uint64_t newest_since; /* the newest since a page of coll was given: no later page has an older one */
} coll_state;

struct overlap {
    pthread_mutex_t mu;
    pthread_cond_t landed;
    coll_state *colls;
    size_t n_colls;
    overlap_page *pages;  /* open and claimed, every collection */
};

overlap *overlap_new(void) {
    overlap *o = mcdc_xcalloc(1, sizeof *o);
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->landed, NULL);
    return o;
}

void overlap_free(overlap *o) {
    if (!o) return;
    assert(!o->pages);
    for (size_t i = 0; i < o->n_colls; i++) map_clear(&o->colls[i].written);
    free(o->colls);
    pthread_cond_destroy(&o->landed);
    pthread_mutex_destroy(&o->mu);
    free(o);
}

static coll_state *coll_of(overlap *o, int64_t coll, bool make) {
    for (size_t i = 0; i < o->n_colls; i++)
        if (o->colls[i].coll == coll) return &o->colls[i];
    if (!make) return NULL;
    o->colls = mcdc_xrealloc(o->colls, (o->n_colls + 1) * sizeof *o->colls);
    o->colls[o->n_colls] = (coll_state){.coll = coll};
    return &o->colls[o->n_colls++];
}

void overlap_set_upsert_until(overlap *o, int64_t coll, uint64_t ts) {
    pthread_mutex_lock(&o->mu);
    coll_of(o, coll, true)->upsert_until = ts;
    pthread_mutex_unlock(&o->mu);
}

uint64_t overlap_upsert_until(overlap *o, int64_t coll) {
    pthread_mutex_lock(&o->mu);
    coll_state *c = coll_of(o, coll, false);
    uint64_t ts = c ? c->upsert_until : 0;
    pthread_mutex_unlock(&o->mu);
    return ts;
}

void overlap_track(overlap *o, int64_t coll) {
    pthread_mutex_lock(&o->mu);
    coll_of(o, coll, true)->tracking = true;
    pthread_mutex_unlock(&o->mu);
}

void overlap_untrack(overlap *o, int64_t coll) {
    pthread_mutex_lock(&o->mu);
    coll_state *c = coll_of(o, coll, false);
    if (c) {
        c->tracking = false;
        map_clear(&c->written);
    }
    pthread_mutex_unlock(&o->mu);
}

static bool held_in_flight(const overlap *o, int64_t coll, const overlap_keys *k) {
    for (const overlap_page *p = o->pages; p; p = p->next) {
        if (p->coll != coll || !p->claimed || !p->held.n) continue;
        for (size_t i = 0; i < k->n; i++)
            if (map_get(&p->held, k->ints ? k->ints[i] : 0, k->strs ? k->strs[i] : NULL)) return true;
    }
    return false;
}

void overlap_stream_write(overlap *o, int64_t coll, const overlap_keys *keys, uint64_t ts) {
    pthread_mutex_lock(&o->mu);
    coll_state *c = coll_of(o, coll, false);
    if (c && c->tracking) {
        /* Rule 3: after the page, never beside it. The copier lets a page
         * go as soon as its call answered, or ended by its deadline, and
         * before any wait between retries (copier.c land_ready). */
        while (held_in_flight(o, coll, keys)) pthread_cond_wait(&o->landed, &o->mu);
        c = coll_of(o, coll, false); /* the array may have moved meanwhile */
        for (size_t i = 0; i < keys->n; i++)
            map_put(&c->written, keys->ints ? keys->ints[i] : 0, keys->strs ? keys->strs[i] : NULL, ts);
    }
    pthread_mutex_unlock(&o->mu);
}

overlap_page *overlap_open(overlap *o, int64_t coll) {
    overlap_page *p = mcdc_xcalloc(1, sizeof *p);
    p->coll = coll;
    pthread_mutex_lock(&o->mu);
    p->next = o->pages;
    o->pages = p;
    pthread_mutex_unlock(&o->mu);
    return p;
}

void overlap_page_since(overlap *o, overlap_page *p, uint64_t since) {
    pthread_mutex_lock(&o->mu);
    p->since = since ? since : 1;
    coll_state *c = coll_of(o, p->coll, true);
    if (p->since > c->newest_since) c->newest_since = p->since;
    pthread_mutex_unlock(&o->mu);
}

static void unlink_page(overlap *o, overlap_page *p) {
    for (overlap_page **at = &o->pages; *at; at = &(*at)->next) {
        if (*at == p) {
            *at = p->next;
            return;
        }
    }
    assert(!"page not open");
}

/* What no page can need: writes at or before the oldest open page's since,
 * and never past the newest since given so far. A page not open yet gets a
 * since at least that newest one (overlap.h: sinces come from one clock and
 * never go back), but not necessarily newer than the writes recorded since
 * then: a since may lie behind the moment its page began. */
static void forget_unneeded(overlap *o, coll_state *c) {
    uint64_t floor = c->newest_since;
    for (const overlap_page *p = o->pages; p; p = p->next)
        if (p->coll == c->coll && !p->claimed && p->since < floor) floor = p->since;
    if (floor > 0) map_keep_after(&c->written, floor);
}

size_t overlap_claim(overlap *o, overlap_page *p, const overlap_keys *keys, bool *keep) {
    size_t kept = 0;
    pthread_mutex_lock(&o->mu);
    assert(!p->claimed && p->since);
    coll_state *c = coll_of(o, p->coll, false);
    for (size_t i = 0; i < keys->n; i++) {
        int64_t iv = keys->ints ? keys->ints[i] : 0;
        const char *sv = keys->strs ? keys->strs[i] : NULL;
        const slot *w = c && c->tracking ? map_get(&c->written, iv, sv) : NULL;
        keep[i] = !(w && w->ts > p->since);
        if (!keep[i]) continue;
        map_put(&p->held, iv, sv, 0);
        kept++;
    }
    p->claimed = true;
    if (c) forget_unneeded(o, c);
    pthread_mutex_unlock(&o->mu);
    return kept;
}

static void end_page(overlap *o, overlap_page *p) {
    pthread_mutex_lock(&o->mu);
    unlink_page(o, p);
    coll_state *c = coll_of(o, p->coll, false);
    if (c && !p->claimed) forget_unneeded(o, c);
    pthread_cond_broadcast(&o->landed);
    pthread_mutex_unlock(&o->mu);
    map_clear(&p->held);
    free(p);
}

void overlap_landed(overlap *o, overlap_page *p) { end_page(o, p); }
void overlap_abandon(overlap *o, overlap_page *p) { end_page(o, p); }

size_t overlap_remembered(overlap *o) {
    pthread_mutex_lock(&o->mu);
    size_t n = 0;
    for (size_t i = 0; i < o->n_colls; i++) n += o->colls[i].written.n;
    pthread_mutex_unlock(&o->mu);
    return n;
}
