/* etcd_txn.c — etcd's Txn as one general call (etcd.h's etcd_txn): several
 * compares, several ops per branch, and the branch's answers handed back as
 * plain arrays, so a caller can write "if I still own it, save this" in one
 * round trip and, when that fails, tell why from reads taken at the same
 * revision. etcd_put_if is the one-compare case. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "etcd/etcd_int.h"
#include "etcd_rpc.pb-c.h"

static ProtobufCBinaryData bin(const void *p, size_t n) {
    ProtobufCBinaryData b = {n, (uint8_t *)p};
    return b;
}

/* A request's protobuf pieces for one op; end holds a prefix's range_end. */
typedef struct op_req {
    Etcdserverpb__RequestOp op;
    Etcdserverpb__RangeRequest range;
    Etcdserverpb__PutRequest put;
    Etcdserverpb__DeleteRangeRequest del;
    mcdc_buf end;
} op_req;

static void op_build(op_req *r, const etcd_op *o) {
    memset(r, 0, sizeof *r);
    Etcdserverpb__RequestOp op = ETCDSERVERPB__REQUEST_OP__INIT;
    r->op = op;
    bool prefix = o->type == ETCD_OP_GET_PREFIX || o->type == ETCD_OP_DELETE_PREFIX;
    ProtobufCBinaryData key = bin(o->key, strlen(o->key)), end = {0, NULL};
    if (prefix) {
        etcd_prefix_end(o->key, &r->end);
        end = bin(r->end.data, r->end.len);
        if (!key.len) key = bin("", 1); /* with range_end "\0": every key */
    }
    switch (o->type) {
    case ETCD_OP_GET:
    case ETCD_OP_GET_PREFIX: {
        Etcdserverpb__RangeRequest q = ETCDSERVERPB__RANGE_REQUEST__INIT;
        r->range = q;
        r->range.key = key;
        r->range.range_end = end;
        r->op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
        r->op.request_range = &r->range;
        break;
    }
    case ETCD_OP_PUT: {
        Etcdserverpb__PutRequest q = ETCDSERVERPB__PUT_REQUEST__INIT;
        r->put = q;
        r->put.key = key;
        r->put.value = bin(o->value, o->value_len);
        r->put.lease = o->lease;
        r->op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
        r->op.request_put = &r->put;
        break;
    }
    case ETCD_OP_DELETE:
    case ETCD_OP_DELETE_PREFIX: {
        Etcdserverpb__DeleteRangeRequest q = ETCDSERVERPB__DELETE_RANGE_REQUEST__INIT;
        r->del = q;
        r->del.key = key;
        r->del.range_end = end;
        r->op.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_DELETE_RANGE;
        r->op.request_delete_range = &r->del;
        break;
    }
    }
}

static Etcdserverpb__Compare__CompareTarget cmp_target(etcd_cmp_target t) {
    switch (t) {
    case ETCD_CMP_VERSION: return ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
    case ETCD_CMP_CREATE: return ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
    case ETCD_CMP_MOD: return ETCDSERVERPB__COMPARE__COMPARE_TARGET__MOD;
    case ETCD_CMP_VALUE: return ETCDSERVERPB__COMPARE__COMPARE_TARGET__VALUE;
    case ETCD_CMP_LEASE: return ETCDSERVERPB__COMPARE__COMPARE_TARGET__LEASE;
    }
    return ETCDSERVERPB__COMPARE__COMPARE_TARGET__VERSION;
}

static Etcdserverpb__Compare__CompareResult cmp_result(etcd_cmp_op o) {
    switch (o) {
    case ETCD_EQUAL: return ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    case ETCD_NOT_EQUAL: return ETCDSERVERPB__COMPARE__COMPARE_RESULT__NOT_EQUAL;
    case ETCD_GREATER: return ETCDSERVERPB__COMPARE__COMPARE_RESULT__GREATER;
    case ETCD_LESS: return ETCDSERVERPB__COMPARE__COMPARE_RESULT__LESS;
    }
    return ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
}

static void cmp_build(Etcdserverpb__Compare *p, const etcd_cmp *c) {
    Etcdserverpb__Compare init = ETCDSERVERPB__COMPARE__INIT;
    *p = init;
    p->key = bin(c->key, strlen(c->key));
    p->target = cmp_target(c->target);
    p->result = cmp_result(c->op);
    switch (c->target) {
    case ETCD_CMP_VERSION:
        p->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VERSION;
        p->version = c->number;
        break;
    case ETCD_CMP_CREATE:
        p->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
        p->create_revision = c->number;
        break;
    case ETCD_CMP_MOD:
        p->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_MOD_REVISION;
        p->mod_revision = c->number;
        break;
    case ETCD_CMP_VALUE:
        p->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_VALUE;
        p->value = bin(c->value, c->value_len);
        break;
    case ETCD_CMP_LEASE:
        p->target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_LEASE;
        p->lease = c->number;
        break;
    }
}

/* What a result's arrays point into. */
typedef struct txn_mem {
    ProtobufCMessage *resp;
    etcd_op_result *ops;
    etcd_kv *kvs;
    char *keys;
} txn_mem;

/* The answers of the branch taken, against the ops asked (for their types). */
static void take_answers(etcd_txn_result *out, txn_mem *mem, const Etcdserverpb__TxnResponse *r,
                         const etcd_op *asked, size_t n_asked) {
    size_t n_kvs = 0, key_bytes = 0;
    for (size_t i = 0; i < r->n_responses; i++) {
        const Etcdserverpb__ResponseOp *ro = r->responses[i];
        if (ro->response_case != ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE || !ro->response_range) continue;
        n_kvs += ro->response_range->n_kvs;
        for (size_t k = 0; k < ro->response_range->n_kvs; k++) key_bytes += ro->response_range->kvs[k]->key.len + 1;
    }
    mem->ops = mcdc_xcalloc(r->n_responses ? r->n_responses : 1, sizeof *mem->ops);
    mem->kvs = mcdc_xcalloc(n_kvs ? n_kvs : 1, sizeof *mem->kvs);
    mem->keys = mcdc_xmalloc(key_bytes ? key_bytes : 1);
    etcd_kv *kv = mem->kvs;
    char *key = mem->keys;
    for (size_t i = 0; i < r->n_responses; i++) {
        const Etcdserverpb__ResponseOp *ro = r->responses[i];
        etcd_op_result *o = &mem->ops[i];
        o->type = i < n_asked ? asked[i].type : ETCD_OP_GET;
        if (ro->response_case == ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE && ro->response_range) {
            o->kvs = kv;
            o->n_kvs = ro->response_range->n_kvs;
            for (size_t k = 0; k < o->n_kvs; k++) {
                const Mvccpb__KeyValue *src = ro->response_range->kvs[k];
                if (src->key.len) memcpy(key, src->key.data, src->key.len);
                key[src->key.len] = '\0';
                etcd_kv_fill(kv++, src, key);
                key += src->key.len + 1;
            }
        } else if (ro->response_case == ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_DELETE_RANGE &&
                   ro->response_delete_range) {
            o->deleted = ro->response_delete_range->deleted;
        }
    }
    out->ops = mem->ops;
    out->n_ops = r->n_responses;
}

int etcd_txn(etcd_client *c, const etcd_cmp *cmps, size_t n_cmps, const etcd_op *success, size_t n_success,
             const etcd_op *failure, size_t n_failure, etcd_txn_result *out, mcdc_err *err) {
    memset(out, 0, sizeof *out);
    Etcdserverpb__Compare *cmp = mcdc_xcalloc(n_cmps ? n_cmps : 1, sizeof *cmp);
    Etcdserverpb__Compare **cmpp = mcdc_xcalloc(n_cmps ? n_cmps : 1, sizeof *cmpp);
    size_t n_ops = n_success + n_failure;
    op_req *reqs = mcdc_xcalloc(n_ops ? n_ops : 1, sizeof *reqs);
    Etcdserverpb__RequestOp **opp = mcdc_xcalloc(n_ops ? n_ops : 1, sizeof *opp);
    for (size_t i = 0; i < n_cmps; i++) {
        cmp_build(&cmp[i], &cmps[i]);
        cmpp[i] = &cmp[i];
    }
    for (size_t i = 0; i < n_ops; i++) {
        op_build(&reqs[i], i < n_success ? &success[i] : &failure[i - n_success]);
        opp[i] = &reqs[i].op;
    }
    Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
    txn.n_compare = n_cmps;
    txn.compare = cmpp;
    txn.n_success = n_success;
    txn.success = opp;
    txn.n_failure = n_failure;
    txn.failure = opp + n_success;

    ProtobufCMessage *m = NULL;
    int transient = 0;
    int rc = etcd_call(c, ETCD_M_TXN, &txn.base, &etcdserverpb__txn_response__descriptor, &m, &transient, err);
    for (size_t i = 0; i < n_ops; i++) mcdc_buf_free(&reqs[i].end);
    free(reqs);
    free(opp);
    free(cmp);
    free(cmpp);
    if (rc) {
        const char *first = n_cmps ? cmps[0].key : n_success ? success[0].key : "";
        mcdc_err_prefix(err, "etcd txn on %s", first);
        return -1;
    }
    const Etcdserverpb__TxnResponse *r = (const Etcdserverpb__TxnResponse *)m;
    txn_mem *mem = mcdc_xcalloc(1, sizeof *mem);
    mem->resp = m;
    out->mem_ = mem;
    out->succeeded = r->succeeded;
    out->revision = r->header ? r->header->revision : 0;
    out->retried = transient;
    if (r->succeeded) take_answers(out, mem, r, success, n_success);
    else take_answers(out, mem, r, failure, n_failure);
    return 0;
}

void etcd_txn_result_free(etcd_txn_result *r) {
    if (!r || !r->mem_) return;
    txn_mem *mem = r->mem_;
    protobuf_c_message_free_unpacked(mem->resp, NULL);
    free(mem->ops);
    free(mem->kvs);
    free(mem->keys);
    free(mem);
    memset(r, 0, sizeof *r);
}

const etcd_kv *etcd_txn_kv(const etcd_txn_result *r, size_t i) {
    return i < r->n_ops && r->ops[i].n_kvs ? &r->ops[i].kvs[0] : NULL;
}

int etcd_put_if(etcd_client *c, const char *key, const void *value, size_t value_len, int64_t expect_mod_revision,
                bool *ok, mcdc_err *err) {
    *ok = false;
    /* etcd compares a missing key as if all its revisions were 0, so 0 here
     * means "must not exist" without a second compare. */
    etcd_cmp cmp = {.key = key, .target = ETCD_CMP_MOD, .op = ETCD_EQUAL, .number = expect_mod_revision};
    etcd_op put = {.type = ETCD_OP_PUT, .key = key, .value = value, .value_len = value_len};
    etcd_op get = {.type = ETCD_OP_GET, .key = key};
    etcd_txn_result r;
    if (etcd_txn(c, &cmp, 1, &put, 1, &get, 1, &r, err)) {
        mcdc_err_prefix(err, "etcd compare-and-swap %s", key);
        return -1;
    }
    if (r.succeeded) {
        *ok = true;
    } else if (r.retried > 0) {
        /* An earlier attempt timed out or lost its connection, so it may have
         * been applied, and then this retry fails its own compare. If the key
         * now holds exactly our value at a newer revision, it was ours: say
         * so, or the caller would think it lost a race it won. */
        const etcd_kv *kv = etcd_txn_kv(&r, 0);
        if (kv)
            *ok = kv->mod_revision > expect_mod_revision && kv->value_len == value_len &&
                  (value_len == 0 || memcmp(kv->value, value, value_len) == 0);
    }
    etcd_txn_result_free(&r);
    return 0;
}
