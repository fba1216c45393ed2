/* overlap.h — where a collection's copy and its live stream meet.
 *
 * A snapshot (copier.h) reads the source's rows through Query, page by page,
 * while the channel workers go on applying the WAL from positions pinned
 * before the first page. Each write either side makes is a whole row (an
 * Insert, an Upsert) or a delete by key: Milvus 2.3 has no partial update.
 * So the two converge if three rules hold (design.md §9, DBLog's idea):
 *
 *  1. While a collection is being copied and until the stream has passed
 *     the copy's end, the stream sends its inserts as upserts: a row a page
 *     wrote may come again from the WAL (overlap_upsert_until).
 *  2. A page read at source time T must not write a key whose newer change
 *     (ts > T) the stream has already sent: the page would put back an older
 *     row, or one the stream deleted. Such keys are dropped from the page;
 *     the stream's write is the newer truth, and every later change of that
 *     key comes through the stream too. T is not known exactly, only that it
 *     lies after the page's `since` (a TSO timestamp taken before the read):
 *     dropping keys changed in (since, T] as well is safe, for the same
 *     reason. A key the stream changes at or before `since` is in the page
 *     as it was after that change, so the page may write it even if the
 *     stream sends that change again later: the stream then also sends
 *     every change after it, in order.
 *  3. A page in flight and a stream write of the same key must not cross
 *     on the target (two upserts of one key land in the order the proxy
 *     sees them): a stream write that touches a key of a page in flight
 *     waits until that page landed.
 *
 * Rule 2 needs the keys the stream sent, with their ts, only while a page
 * may come whose since is older: the caller promises that the sinces it
 * gives never go back (each is at least the one before), so at each claim
 * what is at or before both the oldest open page's since and the newest
 * since given is forgotten, and memory follows the stream's writes during a
 * few pages, not the collection's size. A since may lie behind the moment
 * its page began (copier.c reads a second behind the source's clock), but
 * never before tracking began: writes from before that are not recorded.
 *
 * Thread-safe: the copier's readers and every channel worker call in; one
 * mutex, held for hash lookups only, never across a call. */
#ifndef MCDC_OVERLAP_H
#define MCDC_OVERLAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/change.h"
#include "schema.pb-c.h"

typedef struct overlap overlap;
typedef struct overlap_page overlap_page;

/* A list of primary keys: int64 (strs NULL) or varchar (ints NULL). */
typedef struct overlap_keys {
    const int64_t *ints;
    const char *const *strs;
    size_t n;
} overlap_keys;

/* The keys of a primary-key column, or of a Delete's key list, pointing
 * into it; n 0 when it holds no int64 or varchar keys. (The column's data
 * is a protobuf oneof: its case says which member is there, never a
 * non-NULL pointer, since the members share one place.) */
overlap_keys overlap_keys_of_column(const Milvus__Proto__Schema__FieldData *pk);
overlap_keys overlap_keys_of_ids(const Milvus__Proto__Schema__IDs *ids);
/* The keys an Insert writes (its column named pk_name) or a Delete deletes;
 * n 0 for other changes and when they cannot be found. */
overlap_keys overlap_keys_of_change(const change *c, const char *pk_name);

overlap *overlap_new(void);
void overlap_free(overlap *o);   /* every page landed or abandoned */

/* Rule 1: the stream's inserts of coll with ts <= the value go as upserts
 * (UINT64_MAX while copying; the copy's end while overlapping; 0 once done).
 * Rule 2 and 3 apply while tracking. */
void overlap_set_upsert_until(overlap *o, int64_t coll, uint64_t ts);
uint64_t overlap_upsert_until(overlap *o, int64_t coll);
/* Tracking begins before the copy's first page opens and ends when its
 * last page landed (no page may be open then). */
void overlap_track(overlap *o, int64_t coll);
void overlap_untrack(overlap *o, int64_t coll);

/* Stream side (a channel worker, before it sends): the keys of one write of
 * coll, whose newest change has ts. Returns at once when coll is not
 * tracked; else waits while a page in flight holds one of the keys, then
 * records them. */
void overlap_stream_write(overlap *o, int64_t coll, const overlap_keys *keys, uint64_t ts);

/* Copier side, per page: open (before the TSO is asked for `since`), set
 * since, read the page, claim (marks keep[i] false for keys rule 2 drops,
 * and holds the kept keys for rule 3), send, then landed — or abandoned
 * for a page opened and never claimed. landed also frees a claimed page
 * whose send failed for good. */
overlap_page *overlap_open(overlap *o, int64_t coll);
void overlap_page_since(overlap *o, overlap_page *p, uint64_t since);
/* How many rows were kept. */
size_t overlap_claim(overlap *o, overlap_page *p, const overlap_keys *keys, bool *keep);
void overlap_landed(overlap *o, overlap_page *p);
void overlap_abandon(overlap *o, overlap_page *p);

/* Stream writes remembered now, over every collection (for tests and the
 * memory bound). */
size_t overlap_remembered(overlap *o);

#endif
