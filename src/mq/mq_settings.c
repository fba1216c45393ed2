/* mq_settings.c — a driver's declared keys (mq_key) applied to settings:
 * one value at a time for mcdc.yaml, all together when a driver opens. The
 * way Fluent Bit plugins declare a config map: the driver's table is the
 * one list of what it reads, so config.c, `mcdc dump` and the tools need
 * not know any queue's keys. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "mq/mq_driver.h"

int mq_setting_check(const mq_key *k, const char *value, const char **canon, mcdc_err *err) {
    if (canon) *canon = value;
    switch (k->kind) {
    case MQ_KEY_TEXT:
    case MQ_KEY_SECRET: return 0;
    case MQ_KEY_INT: {
        char *end = NULL;
        errno = 0;
        long long n = strtoll(value, &end, 10);
        if (!value[0] || *end || errno || n < k->lo || n > k->hi || value[0] == ' ')
            return mcdc_errf(err, MCDC_EINVAL, "want an integer from %lld to %lld", k->lo, k->hi);
        return 0;
    }
    case MQ_KEY_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) return 0;
        return mcdc_errf(err, MCDC_EINVAL, "want true or false");
    case MQ_KEY_CHOICE: {
        if (!value[0]) return 0;
        size_t n = 0;
        for (; k->choices[n]; n++)
            if (strcasecmp(value, k->choices[n]) == 0) {
                if (canon) *canon = k->choices[n];
                return 0;
            }
        mcdc_buf b = MCDC_BUF_INIT;
        for (size_t i = 0; i < n; i++) mcdc_buf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ", k->choices[i]);
        mcdc_errf(err, MCDC_EINVAL, "want %s", mcdc_buf_cstr(&b));
        mcdc_buf_free(&b);
        return -1;
    }
    case MQ_KEY_CHECKED: return k->check(value, err);
    }
    return mcdc_errf(err, MCDC_EINTERNAL, "key %s of an unknown kind", k->name);
}

static const mq_key *find_key(const mq_driver *d, const char *name) {
    for (size_t i = 0; i < d->n_keys; i++)
        if (name && strcmp(d->keys[i].name, name) == 0) return &d->keys[i];
    return NULL;
}

/* values[] as mq_settings_read, without a prefix on errors; *blame names the key. */
static int read_values(const mq_driver *d, const mq_config *cfg, const char **values, const char **blame,
                       mcdc_err *err) {
    for (size_t i = 0; i < d->n_keys; i++) values[i] = d->keys[i].def;
    for (size_t i = 0; i < cfg->n_settings; i++) {
        const char *name = cfg->settings[i].key;
        const mq_key *k = find_key(d, name);
        *blame = name;
        if (!k) {
            mcdc_buf b = MCDC_BUF_INIT;
            for (size_t j = 0; j < d->n_keys; j++) mcdc_buf_printf(&b, "%s%s", j ? ", " : "", d->keys[j].name);
            mcdc_errf(err, MCDC_EINVAL, "unknown setting (known: %s)", mcdc_buf_cstr(&b));
            mcdc_buf_free(&b);
            return -1;
        }
        const char *v = cfg->settings[i].value ? cfg->settings[i].value : "";
        if (mq_setting_check(k, v, &values[k - d->keys], err)) return -1;
    }
    *blame = NULL;
    return d->check_settings ? d->check_settings(values, blame, err) : 0;
}

int mq_settings_read(const mq_driver *d, const mq_config *cfg, const char **values, mcdc_err *err) {
    const char *blame = NULL;
    if (read_values(d, cfg, values, &blame, err) == 0) return 0;
    if (blame) mcdc_err_prefix(err, "%s: %s", d->name, blame);
    else mcdc_err_prefix(err, "%s", d->name);
    return -1;
}

/* ---- through mq.h, by type -------------------------------------------------- */

const mq_key *mq_keys(const char *type, size_t *n) {
    const mq_driver *d = mq_find_driver(type);
    *n = d ? d->n_keys : 0;
    return d ? d->keys : NULL;
}

int mq_settings_check(const mq_config *cfg, const char **key, mcdc_err *err) {
    const char *blame = NULL;
    if (key) *key = NULL;
    const mq_driver *d = mq_find_driver(cfg->type);
    if (!d) return mcdc_errf(err, MCDC_EINVAL, "unknown message queue type '%s'", cfg->type ? cfg->type : "");
    const char **values = mcdc_xcalloc(d->n_keys ? d->n_keys : 1, sizeof *values);
    int rc = read_values(d, cfg, values, &blame, err);
    free(values);
    if (key) *key = blame;
    return rc;
}

const char *mq_config_get(const mq_config *cfg, const char *key) {
    const mq_driver *d = mq_find_driver(cfg->type);
    const mq_key *k = d ? find_key(d, key) : NULL;
    if (!k) return NULL;
    const char *v = k->def;
    for (size_t i = 0; i < cfg->n_settings; i++)
        if (cfg->settings[i].key && strcmp(cfg->settings[i].key, key) == 0 && cfg->settings[i].value) v = cfg->settings[i].value;
    return v;
}

void mq_config_with_default(const mq_config *base, const char *key, const char *value, mq_config *out,
                            mq_kv **own) {
    *out = *base;
    *own = NULL;
    const mq_driver *d = mq_find_driver(base->type);
    if (!d || !find_key(d, key)) return;
    for (size_t i = 0; i < base->n_settings; i++)
        if (base->settings[i].key && strcmp(base->settings[i].key, key) == 0) return;
    mq_kv *kv = mcdc_xcalloc(base->n_settings + 1, sizeof *kv);
    if (base->n_settings) memcpy(kv, base->settings, base->n_settings * sizeof *kv);
    kv[base->n_settings] = (mq_kv){key, value};
    out->settings = kv;
    out->n_settings = base->n_settings + 1;
    *own = kv;
}
