/* task_coverage.h — which source collections a task reads and which target
 * collections they become, as patterns, so that "never double" is decided
 * before a task exists:
 *   - in one task, name_mapping must not send two source collections to one
 *     target collection (task_coverage_check_spec: MCDC_EINVAL, 400);
 *   - two tasks into one target Milvus must neither read one source
 *     collection twice nor write one target collection from both
 *     (task_coverage_check_pair: MCDC_EEXIST, 409).
 *
 * "Could collide" is decided over every name a database or collection could
 * ever have, not over the ones that exist now: a collection created on the
 * source tomorrow must not be doubled either, and nothing rechecks then.
 *
 * A task's coverage is cut into parts. A part is a set of source collections
 * (a set of database names times a set of collection names) and the set they
 * become on the target; inside one part the renaming is one to one, and the
 * parts of one task are disjoint on the source. So two source collections
 * meet on the target exactly when two parts' target sets meet. The parts
 * agree with task_spec_covers and task_spec_map_name (test_task_coverage
 * checks it name by name). */
#ifndef MCDC_TASK_COVERAGE_H
#define MCDC_TASK_COVERAGE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/error.h"
#include "pipeline/task_spec.h"

/* One name, or every name but a few (the "*" of a request). The strings
 * point into the task_spec the set was made from. */
typedef struct name_set {
    const char *one;  /* the name; NULL: every name but those in but */
    const char **but; /* owned array */
    size_t n_but;
} name_set;

typedef struct coverage_part {
    name_set src_db, src_coll;
    name_set dst_db, dst_coll;
    bool db_moved;     /* dst_db is a mapping's target_db, src_db its source_db */
    bool coll_renamed; /* one collection, renamed by collection_mapping */
} coverage_part;

typedef struct task_coverage {
    coverage_part *parts;
    size_t n;
} task_coverage;

/* s must outlive *out. Free with task_coverage_free. */
void task_coverage_of(const task_spec *s, task_coverage *out);
void task_coverage_free(task_coverage *c);

bool name_set_has(const name_set *s, const char *name);

/* MCDC_EINVAL naming both sources and the target when s's name_mapping sends
 * two source collections it covers to one target collection. */
int task_coverage_check_spec(const task_spec *s, mcdc_err *err);

/* MCDC_EEXIST naming had's id and the collection when added, a new task, and
 * had, one that exists, write into one target Milvus and either cover a
 * source collection both, or could write one target collection both. */
int task_coverage_check_pair(const task_spec *had, const task_spec *added, mcdc_err *err);

/* Whether two targets are one Milvus for the rule above (see the .c for
 * what counts as the same). */
bool task_target_same(const task_target *a, const task_target *b);

#endif
