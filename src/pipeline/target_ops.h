/* target_ops.h — the production target_ops (worker_io.h): the applier, one
 * per worker, with its own connection to the target Milvus, reaching each
 * collection through the task's bindings (bindings.h): a change goes to the
 * target collection its source collection id owns, a create creates (or
 * adopts) it, a drop drops only that one, and the late changes of a
 * collection the source dropped are left out. */
#ifndef MCDC_TARGET_OPS_H
#define MCDC_TARGET_OPS_H

#include "pipeline/bindings.h"
#include "pipeline/overlap.h"
#include "pipeline/task_spec.h"
#include "pipeline/worker_io.h"
#include "source/catalog.h"

extern const target_ops applier_target_ops;

/* An applier for the task's target; spec, catalog and bindings must outlive
 * it. The secrets the spec names by reference are read now, from
 * secrets_dir (the config's) or the environment, and forgotten once the
 * connection is open. NULL with *err when the target cannot be reached, a
 * secret cannot be read (MCDC_EIO, task_spec.h) or the settings are
 * unusable. Free it with applier_target_ops.close. */
void *target_ops_open(const task_spec *spec, const char *secrets_dir, catalog *source, bindings *registry,
                      overlap *ov, mcdc_err *err);

/* Whether the target collection that source collection cc would write
 * into (the task's name mapping's: for a task that has bound nothing yet)
 * holds rows. *holds is false only when that is sure: no collection of that
 * name is there yet (the task will make it); or a count that does not wait
 * sees none and the collection has no segment, so no write ever reached it
 * (applier_never_written; asked of the first 32 (LISTING_FLUSHES) such
 * collections of a listing, until a Flush fails); or, otherwise, every
 * partition of it is loaded and it counts 0 rows as of target timestamp
 * *as_of, which it takes when *as_of is 0 and it needs one; a caller that
 * asks of several collections in a row passes the same *as_of, so that
 * they wait for one time tick of the target's between them
 * (applier_count). -1 with *err (and *holds true) when the target cannot
 * tell, e.g. the collection is not loaded, or not all of it while it has
 * segments or was not asked. */
int target_ops_holds_rows(void *ud, const catalog_coll *cc, uint64_t *as_of, bool *holds, mcdc_err *err);

/* A snapshot page (copier.h): rows of source collection cc as Query
 * returned them, as one Upsert into the collection cc owns (made if it has
 * none yet), started and not waited for; the call is then handled with
 * applier_target_ops' ready / wait / resend / free. *out NULL with rc 0
 * when the source dropped the collection. */
int target_ops_copy_start(void *ud, const catalog_coll *cc, const char *partition,
                          Milvus__Proto__Schema__FieldData *const *cols, size_t n_cols, uint32_t rows,
                          target_call **out, mcdc_err *err);

#endif
