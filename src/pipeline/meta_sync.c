/* meta_sync.c — see meta_sync.h. Each step walks the catalog's collections
 * (the desired state) against two records of what the target holds: the
 * covered collections, each with the source partitions known to exist on
 * its target, and the aliases on those targets. A record changes only after
 * the target call for it succeeded, so a failed call is tried again on the
 * next step and a successful one is never repeated. */
#include "pipeline/meta_sync.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"

#define NAME_CAP 256

/* A source collection that has a target. */
typedef struct covered {
    int64_t src_id;
    char db[NAME_CAP];              /* its target */
    char name[NAME_CAP];
    bool seeded;                    /* the target's aliases and partitions were read */
    bool frozen;                    /* Creating or Dropping on the source: nothing changes on its target */
    bool seen;                      /* listed in this step */
    int64_t *parts;                 /* source partition ids that exist on the target */
    size_t n_parts;
} covered;

/* An alias the target holds on a covered collection. */
typedef struct applied_alias {
    char *db;
    char *name;
    char *coll;
    int64_t src_id;                 /* the source collection coll stands for */
    uint64_t unwanted_since;        /* stamp of when it was first found unwanted with no ts to go by */
} applied_alias;

struct meta_sync {
    catalog *src;
    meta_sync_target t;
    meta_sync_io io;
    covered *cov;
    size_t n_cov;
    applied_alias *al;
    size_t n_al;
};

meta_sync *meta_sync_new(catalog *src, const meta_sync_target *target, const meta_sync_io *io) {
    meta_sync *m = mcdc_xcalloc(1, sizeof *m);
    m->src = src;
    m->t = *target;
    m->io = *io;
    return m;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

/* ---- records ------------------------------------------------------------------- */

static covered *cov_find(meta_sync *m, int64_t src_id) {
    for (size_t i = 0; i < m->n_cov; i++)
        if (m->cov[i].src_id == src_id) return &m->cov[i];
    return NULL;
}

static applied_alias *al_find(meta_sync *m, const char *db, const char *name) {
    for (size_t i = 0; i < m->n_al; i++)
        if (strcmp(m->al[i].db, db) == 0 && strcmp(m->al[i].name, name) == 0) return &m->al[i];
    return NULL;
}

static void al_set(meta_sync *m, const char *db, const char *name, const char *coll, int64_t src_id) {
    applied_alias *a = al_find(m, db, name);
    if (!a) {
        m->al = mcdc_xrealloc(m->al, (m->n_al + 1) * sizeof *m->al);
        a = &m->al[m->n_al++];
        a->db = mcdc_xstrdup(db);
        a->name = mcdc_xstrdup(name);
    } else {
        free(a->coll);
    }
    a->coll = mcdc_xstrdup(coll);
    a->src_id = src_id;
    a->unwanted_since = 0;
}

static void al_remove(meta_sync *m, size_t i) {
    free(m->al[i].db);
    free(m->al[i].name);
    free(m->al[i].coll);
    m->al[i] = m->al[--m->n_al];
}

/* A collection that lost its target (dropped, or renamed there): what was
 * on that target is no longer ours to follow, and no call is owed for it. */
static void cov_forget(meta_sync *m, size_t i) {
    for (size_t j = 0; j < m->n_al;) {
        if (m->al[j].src_id == m->cov[i].src_id) al_remove(m, j);
        else j++;
    }
    free(m->cov[i].parts);
    m->cov[i] = m->cov[--m->n_cov];
}

static bool part_done(const covered *k, int64_t id) {
    for (size_t i = 0; i < k->n_parts; i++)
        if (k->parts[i] == id) return true;
    return false;
}

static void part_add(covered *k, int64_t id) {
    if (part_done(k, id)) return;
    k->parts = mcdc_xrealloc(k->parts, (k->n_parts + 1) * sizeof *k->parts);
    k->parts[k->n_parts++] = id;
}

static bool has_name(char *const *names, size_t n, const char *name) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return true;
    return false;
}

/* Partitions are this module's to create unless the task ignores them or a
 * partition key makes them (the target refuses a CreatePartition then). */
static bool wants_partitions(const meta_sync *m, const catalog_coll *cc) {
    if (m->io.ignore_partitions) return false;
    for (size_t i = 0; cc->schema && i < cc->schema->n_fields; i++)
        if (cc->schema->fields[i]->is_partition_key) return false;
    return true;
}

/* ---- the target's state, read once per collection ------------------------------ */

static int seed(meta_sync *m, covered *k, const catalog_coll *cc, mcdc_err *err) {
    char **names;
    size_t n;
    if (m->t.list_aliases(m->t.ud, k->db, k->name, &names, &n, err)) {
        mcdc_err_prefix(err, "listing the aliases of target %s.%s", k->db, k->name);
        return -1;
    }
    for (size_t i = 0; i < n; i++) al_set(m, k->db, names[i], k->name, k->src_id);
    free_names(names, n);
    if (!wants_partitions(m, cc)) {
        k->seeded = true;
        return 0;
    }
    if (m->t.list_partitions(m->t.ud, k->db, k->name, &names, &n, err)) {
        mcdc_err_prefix(err, "listing the partitions of target %s.%s", k->db, k->name);
        return -1;
    }
    for (size_t i = 0; i < cc->n_partitions; i++)
        if (has_name(names, n, cc->partitions[i].name)) part_add(k, cc->partitions[i].id);
    free_names(names, n);
    k->seeded = true;
    return 0;
}

/* ---- partitions ------------------------------------------------------------------ */

static int sync_partitions(meta_sync *m, covered *k, const catalog_coll *cc, uint64_t wm, mcdc_err *err) {
    if (k->frozen || !wants_partitions(m, cc)) return 0;
    for (size_t i = 0; i < cc->n_partitions; i++) {
        const catalog_partition *p = &cc->partitions[i];
        /* Dropping (or still Creating): its drop reaches the target through
         * the WAL; creating it now could follow that drop. */
        if (p->state != CATALOG_CREATED || part_done(k, p->id)) continue;
        uint64_t ts = p->created_ts ? p->created_ts : cc->create_ts;
        if (wm < ts) continue;
        if (m->t.create_partition(m->t.ud, k->db, k->name, p->name, err) && err->code != MCDC_EEXIST) {
            mcdc_err_prefix(err, "creating partition %s of target %s.%s", p->name, k->db, k->name);
            return -1;
        }
        log_info("meta sync: partition %s of %s.%s (source %s.%s) on the target", p->name, k->db, k->name, cc->db_name,
                 cc->name);
        part_add(k, p->id);
    }
    return 0;
}

/* ---- aliases --------------------------------------------------------------------- */

/* The covered, settled collection the record names on the target (seeded:
 * a step reaches the aliases only after every covered one was). */
static covered *alias_home(meta_sync *m, const catalog_alias *r) {
    if (r->dropped) return NULL;
    covered *k = cov_find(m, r->collection_id);
    return k && !k->frozen ? k : NULL;
}

/* Points alias at k's target: an alter when the target has it elsewhere, a
 * create otherwise; each falls back on the other when the target disagrees
 * with what we knew. A create of an alias already on that collection
 * succeeds (2.3's rootcoord accepts the duplicate). */
static int put_alias(meta_sync *m, const covered *k, const char *alias, bool exists, mcdc_err *err) {
    int rc;
    if (exists) {
        rc = m->t.alter_alias(m->t.ud, k->db, k->name, alias, err);
        if (rc && err->code == MCDC_ENOTFOUND) rc = m->t.create_alias(m->t.ud, k->db, k->name, alias, err);
    } else {
        rc = m->t.create_alias(m->t.ud, k->db, k->name, alias, err);
        if (rc && err->code == MCDC_EEXIST) rc = m->t.alter_alias(m->t.ud, k->db, k->name, alias, err);
    }
    if (rc) mcdc_err_prefix(err, "alias %s of target %s.%s", alias, k->db, k->name);
    return rc;
}

static bool wanted(meta_sync *m, const applied_alias *a, const catalog_alias *list, size_t n) {
    for (size_t i = 0; i < n; i++) {
        covered *k = alias_home(m, &list[i]);
        if (k && strcmp(list[i].name, a->name) == 0 && strcmp(k->db, a->db) == 0) return true;
    }
    return false;
}

/* When the source stopped wanting a: the ts of the last change of its
 * name there (a drop, or a move to a collection we do not cover); failing
 * any record, from the first step that found it unwanted. */
static uint64_t unwanted_ts(meta_sync *m, applied_alias *a, const catalog_alias *list, size_t n) {
    uint64_t ts = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(list[i].name, a->name) == 0 && list[i].ts > ts) ts = list[i].ts;
    if (ts) return ts;
    if (!a->unwanted_since) a->unwanted_since = catalog_now_ts(m->src);
    return a->unwanted_since;
}

static int sync_aliases(meta_sync *m, uint64_t wm, mcdc_err *err) {
    catalog_alias *list;
    size_t n = catalog_aliases(m->src, &list);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const catalog_alias *r = &list[i];
        covered *k = alias_home(m, r);
        if (!k) continue;
        applied_alias *a = al_find(m, k->db, r->name);
        if (a && strcmp(a->coll, k->name) == 0) {
            a->src_id = k->src_id;
            a->unwanted_since = 0;
            continue;
        }
        if (wm < r->ts) continue;
        if ((rc = put_alias(m, k, r->name, a != NULL, err))) break;
        log_info("meta sync: alias %s now names %s.%s on the target%s%s", r->name, k->db, k->name,
                 a ? ", was " : "", a ? a->coll : "");
        al_set(m, k->db, r->name, k->name, k->src_id);
    }
    for (size_t j = 0; j < m->n_al && rc == 0;) {
        applied_alias *a = &m->al[j];
        covered *k = cov_find(m, a->src_id);
        if ((k && k->frozen) || wanted(m, a, list, n) || wm < unwanted_ts(m, a, list, n)) {
            j++;
            continue;
        }
        if (m->t.drop_alias(m->t.ud, a->db, a->name, err) && err->code != MCDC_ENOTFOUND) {
            mcdc_err_prefix(err, "dropping alias %s of target %s.%s", a->name, a->db, a->coll);
            rc = -1;
            break;
        }
        log_info("meta sync: alias %s of %s.%s dropped from the target", a->name, a->db, a->coll);
        al_remove(m, j);
    }
    catalog_aliases_free(list, n);
    return rc;
}

/* ---- the step -------------------------------------------------------------------- */

int meta_sync_step(meta_sync *m, uint64_t wm, mcdc_err *err) {
    catalog_coll **list;
    size_t n = catalog_list_held(m->src, &list);
    for (size_t i = 0; i < m->n_cov; i++) m->cov[i].seen = false;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const catalog_coll *cc = list[i];
        char db[NAME_CAP], name[NAME_CAP];
        if (!m->io.target_of(m->io.ud, cc->id, db, sizeof db, name, sizeof name)) continue;
        covered *k = cov_find(m, cc->id);
        if (k && (strcmp(k->db, db) != 0 || strcmp(k->name, name) != 0)) {
            cov_forget(m, (size_t)(k - m->cov));
            k = NULL;
        }
        if (!k) {
            m->cov = mcdc_xrealloc(m->cov, (m->n_cov + 1) * sizeof *m->cov);
            k = &m->cov[m->n_cov++];
            memset(k, 0, sizeof *k);
            k->src_id = cc->id;
            snprintf(k->db, sizeof k->db, "%s", db);
            snprintf(k->name, sizeof k->name, "%s", name);
        }
        k->seen = true;
        k->frozen = cc->state != CATALOG_CREATED;
        if (k->frozen) continue;
        if (!k->seeded) rc = seed(m, k, cc, err);
        if (rc == 0) rc = sync_partitions(m, k, cc, wm, err);
    }
    /* Only a full walk tells which collections lost their target. */
    if (rc == 0) {
        for (size_t i = 0; i < m->n_cov;) {
            if (!m->cov[i].seen) cov_forget(m, i);
            else i++;
        }
        rc = sync_aliases(m, wm, err);
    }
    catalog_release_list(list, n);
    if (rc) mcdc_err_prefix(err, "meta sync");
    return rc;
}

void meta_sync_free(meta_sync *m) {
    if (!m) return;
    while (m->n_al) al_remove(m, m->n_al - 1);
    free(m->al);
    for (size_t i = 0; i < m->n_cov; i++) free(m->cov[i].parts);
    free(m->cov);
    free(m);
}
