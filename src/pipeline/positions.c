/* positions.c — see positions.h. */
#include "pipeline/positions.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

void positions_init(positions *p, const char *mq_type, const mq_msgid *checkpoint, uint64_t checkpoint_ts,
                    const mq_msgid *intent) {
    memset(p, 0, sizeof *p);
    p->mq_type = mq_type;
    if (checkpoint) {
        p->done = p->saved = *checkpoint;
        p->done_ts = p->saved_ts = checkpoint_ts;
    }
    if (intent && intent->len && positions_cmp(p, intent, &p->saved) > 0) p->window = *intent;
    p->intent_saved = p->window.len ? p->window : p->saved;
}

void positions_free(positions *p) {
    free(p->q);
    p->q = NULL;
    p->n = p->cap = 0;
}

int positions_cmp(const positions *p, const mq_msgid *a, const mq_msgid *b) {
    if (a->len == 0 || b->len == 0) return (int)(a->len != 0) - (int)(b->len != 0);
    return mq_msgid_cmp(p->mq_type, a, b);
}

pos_holder positions_new_holder(positions *p) {
    if (++p->last_holder == 0) p->last_holder = 1;
    return p->last_holder;
}

static pos_entry *at(positions *p, size_t i) { return &p->q[(p->head + i) % p->cap]; }

static void pass(positions *p, const pos_entry *e) {
    p->done = e->id;
    if (e->ts > p->done_ts) p->done_ts = e->ts;
    if (e->tick > p->tick) p->tick = e->tick;
}

/* Moves the checkpoint over every done entry at the head. */
static void advance(positions *p) {
    while (p->n && at(p, 0)->holder == 0) {
        pass(p, at(p, 0));
        p->head = (p->head + 1) % p->cap;
        p->n--;
    }
}

static void grow(positions *p) {
    size_t cap = p->cap ? p->cap * 2 : 16;
    pos_entry *q = mcdc_xcalloc(cap, sizeof *q);
    for (size_t i = 0; i < p->n; i++) q[i] = *at(p, i);
    free(p->q);
    p->q = q;
    p->cap = cap;
    p->head = 0;
}

void positions_read(positions *p, const mq_msgid *id, uint64_t ts, uint64_t tick, pos_holder holder) {
    pos_entry e = {.id = *id, .ts = ts, .tick = tick, .holder = holder};
    if (p->n == 0 && holder == 0) {
        pass(p, &e);
        return;
    }
    /* A done message behind a held one, or another of the same holder, can
     * be passed only together with it: one entry serves both. */
    if (p->n) {
        pos_entry *tail = at(p, p->n - 1);
        if (holder == 0 || holder == tail->holder) {
            tail->id = *id;
            if (ts > tail->ts) tail->ts = ts;
            if (tick > tail->tick) tail->tick = tick;
            return;
        }
    }
    if (p->n == p->cap) grow(p);
    *at(p, p->n) = e;
    p->n++;
}

void positions_release(positions *p, pos_holder h) {
    assert(h != 0);
    for (size_t i = 0; i < p->n; i++)
        if (at(p, i)->holder == h) at(p, i)->holder = 0;
    advance(p);
}

bool positions_in_window(const positions *p, const mq_msgid *id) {
    return p->window.len && positions_cmp(p, id, &p->window) <= 0;
}

bool positions_intent_needed(const positions *p, const mq_msgid *id) {
    return positions_cmp(p, id, &p->intent_saved) > 0;
}

void positions_intent_stored(positions *p, const mq_msgid *id) { p->intent_saved = *id; }

bool positions_dirty(const positions *p) {
    return p->done.len != p->saved.len || memcmp(p->done.bytes, p->saved.bytes, p->done.len) != 0;
}

bool positions_save_due(const positions *p, uint64_t now_mono_ms, uint64_t idle_ms) {
    if (!positions_dirty(p)) return false;
    bool sent_all_acked = p->intent_saved.len && positions_cmp(p, &p->done, &p->intent_saved) >= 0 &&
                          positions_cmp(p, &p->saved, &p->intent_saved) < 0;
    return sent_all_acked || now_mono_ms - p->saved_mono_ms >= idle_ms;
}

void positions_checkpoint_stored(positions *p, uint64_t now_mono_ms) {
    /* The checkpoint never moves back: what is stored was done. */
    assert(positions_cmp(p, &p->done, &p->saved) >= 0);
    p->saved = p->done;
    p->saved_ts = p->done_ts;
    p->saved_mono_ms = now_mono_ms;
}
