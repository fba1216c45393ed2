/* channels.c — see channels.h. */
#include "source/channels.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"

#define DML_INFIX "-rootcoord-dml_"

char *channel_dml_name(const char *prefix, int i) {
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "%s" DML_INFIX "%d", prefix, i);
    char *s = mcdc_xstrdup(mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    return s;
}

char *channel_replicate_name(const char *prefix) {
    mcdc_buf b = MCDC_BUF_INIT;
    mcdc_buf_printf(&b, "%s-replicate-msg", prefix);
    char *s = mcdc_xstrdup(mcdc_buf_cstr(&b));
    mcdc_buf_free(&b);
    return s;
}

bool channel_is_dml_of(const char *prefix, const char *name) {
    size_t plen = strlen(prefix);
    return strncmp(name, prefix, plen) == 0 && strncmp(name + plen, DML_INFIX, strlen(DML_INFIX)) == 0;
}

const char *channel_physical_of(const char *name, char *buf, size_t cap) {
    snprintf(buf, cap, "%s", name);
    const char *dml = strstr(buf, DML_INFIX);
    char *v = strrchr(buf, '_');
    if (dml && v && v > dml + strlen(DML_INFIX) - 1 && strchr(v, 'v')) *v = '\0';
    return buf;
}
